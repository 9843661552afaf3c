"""docs/walkthrough.md runs against a live server (`python -m service run`) and its answers are the real ones."""

from __future__ import annotations

import pytest

from tests.walkthrough import DOC, differences, documents, live_server, run, steps


def test_differences_ignore_what_varies_and_catch_the_rest():
    documented = {"id": "1", "createdAt": "2025-03-01T08:30:00Z", "status": "paid", "items": [{"votes": 2}]}
    assert differences(documented, {**documented, "id": "9", "createdAt": "2026-01-01T00:00:00.5Z"}) == []
    assert differences(documented, {**documented, "status": "pending"}) == [
        "$.status: 'paid' documented, 'pending' answered"
    ]
    assert differences(documented, {**documented, "extra": 1})[0].startswith("$: keys")
    assert differences(documented, {**documented, "items": []}) == ["$.items: 1 items documented, 0 answered"]
    assert differences({"seconds": 2.0}, {"seconds": 2.5}, shape_only=True) == []
    assert differences({"seconds": 2.0}, {"seconds": "2.5"}, shape_only=True) != []


def test_every_answer_block_is_filled_in():
    for step in steps(DOC.read_text()):
        if step.answer is not None:
            assert step.answer.strip(), f"an answer block is empty: run `make walkthrough`\n{step.script}"


@pytest.mark.slow
def test_the_walkthrough_runs_against_a_live_server(database_url, tmp_path):
    text = DOC.read_text()
    with live_server(database_url, tmp_path) as (api, sandbox):
        outputs = run(text, api, sandbox, tmp_path)
    problems = []
    for number, (step, output) in enumerate(zip(steps(text), outputs, strict=True), start=1):
        if step.answer is None:
            continue
        documented, answered = documents(step.answer), documents(output)
        found = differences(documented, answered, step.shape_only, where=f"step {number}")
        problems += [f"{line}\n  after: {step.script.strip().splitlines()[-1]}" for line in found]
    assert not problems, "docs/walkthrough.md is stale (run `make walkthrough`):\n" + "\n".join(problems)
