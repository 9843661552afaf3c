"""docs/walkthrough.md as a program: its ```bash blocks run in order in one shell against a live server, and
each answer is compared with the ```json block that follows it.

`python -m tests.walkthrough` (`make walkthrough`) starts a server on a fresh database, runs the walkthrough
and writes the answers it got into the document. A ```json block marked `shape` is compared by shape only
(keys and types): its numbers depend on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.processes import free_ports
from tests.support import (
    ROOT,
    TEST_SECRET,
    admin_dsn,
    create_database,
    drop_database,
    unique_name,
    with_database,
)

DOC = ROOT / "docs" / "walkthrough.md"
DOC_API, DOC_SANDBOX = "http://127.0.0.1:8000", "http://127.0.0.1:8900"
STEP = re.compile(r"```bash\n(?P<script>.*?)```(?:\s*```json(?P<shape> shape)?\n(?P<answer>.*?)```)?", re.S)
END = "\n<<<walkthrough-step-end>>>\n"  # printed after each step
# Values that differ on every run: ids, tokens, signatures, times.
VARYING_KEYS = re.compile(
    r"(^|Id|Ids|At|Token|Until|Time|Expire|Cursor)$|^(id|openid|outTradeNo|package|paySign|nonceStr|timeStamp|requestId)$"
)
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$")


@dataclass
class Step:
    script: str
    answer: str | None  # the documented answer (JSON), None when the step shows none
    shape_only: bool
    span: tuple[int, int]  # where the answer's text sits in the document


def steps(text: str) -> list[Step]:
    return [
        Step(m["script"], m["answer"], bool(m["shape"]), m.span("answer") if m["answer"] is not None else (-1, -1))
        for m in STEP.finditer(text)
    ]


def run(text: str, api: str, sandbox: str, workdir: Path, timeout: float = 180) -> list[str]:
    """Run every step in one bash (set -euo pipefail) and return what each printed."""
    marker = END.strip()
    script = "set -euo pipefail\n" + "".join(f"{s.script}\nprintf '\\n%s\\n' '{marker}'\n" for s in steps(text))
    script = script.replace(DOC_API, api).replace(DOC_SANDBOX, sandbox)
    done = subprocess.run(
        ["bash", "-c", script], cwd=workdir, capture_output=True, text=True, timeout=timeout, check=False
    )
    outputs = done.stdout.split(END)
    if done.returncode != 0:
        failed = len(outputs) - 1
        raise AssertionError(
            f"step {failed + 1} failed ({done.returncode}):\n{steps(text)[failed].script}\n{done.stderr}"
        )
    return outputs[:-1]


def differences(documented, actual, shape_only: bool = False, where: str = "$", key: str = "") -> list[str]:
    """How ``actual`` differs from ``documented``, ignoring values that vary from run to run."""
    if isinstance(documented, dict) and isinstance(actual, dict):
        if set(documented) != set(actual):
            return [f"{where}: keys {sorted(documented)} != {sorted(actual)}"]
        return [d for k in documented for d in differences(documented[k], actual[k], shape_only, f"{where}.{k}", k)]
    if isinstance(documented, list) and isinstance(actual, list):
        if len(documented) != len(actual):
            return [f"{where}: {len(documented)} items documented, {len(actual)} answered"]
        found = zip(documented, actual, strict=True)
        return [d for i, (a, b) in enumerate(found) for d in differences(a, b, shape_only, f"{where}[{i}]", key)]
    if type(documented) is not type(actual) and {type(documented), type(actual)} != {int, float}:
        return [f"{where}: {documented!r} documented, {actual!r} answered"]
    varies = shape_only or VARYING_KEYS.search(key) or (isinstance(actual, str) and TIME.match(actual))
    if not varies and documented != actual:
        return [f"{where}: {documented!r} documented, {actual!r} answered"]
    return []


def documents(text: str) -> list:
    """The JSON values in ``text``, one after another (a step may print more than one answer)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while (at := len(text) - len(text[at:].lstrip())) < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
    return values


def pretty(values: list) -> str:
    return "".join(json.dumps(value, indent=2, ensure_ascii=False) + "\n" for value in values)


@contextlib.contextmanager
def live_server(database_url: str, workdir: Path) -> Iterator[tuple[str, str]]:
    """`python -m service run` (API, WeChat sandbox, job worker) on free ports; yields (api, sandbox) URLs."""
    api_port, sandbox_port = free_ports(2)
    api, sandbox = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{sandbox_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHAT_")}
    env.update(
        DATABASE_URL=database_url,
        PORT=str(api_port),
        SANDBOX_PORT=str(sandbox_port),
        PUBLIC_BASE_URL=api,  # where the Pay sandbox sends its notifications
        SECRET_KEY=TEST_SECRET,
        LOG_LEVEL="WARNING",
    )
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "run"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (workdir / "server.log").read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{api}/readyz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the live server did not become ready"
            time.sleep(0.2)
        yield api, sandbox
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def rewrite(text: str, outputs: list[str]) -> str:
    """The document with every answer block replaced by the answer got."""
    pieces, last = [], 0
    for step, output in zip(steps(text), outputs, strict=True):
        if step.answer is None:
            continue
        start, end = step.span
        pieces += [text[last:start], pretty(documents(output))]
        last = end
    return "".join(pieces) + text[last:]


def main() -> None:
    admin = admin_dsn()
    name = unique_name("walkthrough")
    asyncio.run(create_database(admin, name))
    try:
        with tempfile.TemporaryDirectory() as folder:
            with live_server(with_database(admin, name), Path(folder)) as (api, sandbox):
                text = DOC.read_text()
                DOC.write_text(rewrite(text, run(text, api, sandbox, Path(folder))))
    finally:
        asyncio.run(drop_database(admin, name))
    print(f"wrote the answers into {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
