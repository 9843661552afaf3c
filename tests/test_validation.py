"""A bad request names every bad field at once, at its camelCase path, with a stable reason and a short
message a form can show beside the input (no decoder internals such as regular expressions)."""

from __future__ import annotations

import logging
from typing import Annotated, ClassVar, Literal

import msgspec
import pytest

from service.validation import BadField, explain, field_errors, too_deep
from tests.wechat_support import bearer, login
from tests.world import assert_problem


class Place(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    street_name: Annotated[str, msgspec.Meta(pattern="^[a-z ]+$")]
    floor: int = 0


class Event(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=10)]
    seats_left: Annotated[int, msgspec.Meta(ge=0)] = 0
    mode: Literal["online", "offline"] = "online"
    place: Place | None = None
    stops: list[Place] = []


def test_every_bad_field_at_its_camel_case_path():
    body = {
        "seatsLeft": -1,
        "mode": "space",
        "place": {"streetName": "Main St 1"},
        "stops": [{"streetName": "ok"}, {"streetName": 3, "floor": "x"}],
        "colour": "red",
    }
    assert field_errors(Event, body) == [
        BadField("title", "required", "is required"),
        BadField("seatsLeft", "too_small", "must be at least 0"),
        BadField("mode", "not_allowed", "is not one of the allowed values"),
        BadField("place.streetName", "pattern", "is not in the expected format"),
        BadField("stops[1].streetName", "type", "must be str"),
        BadField("stops[1].floor", "type", "must be int"),
        BadField("colour", "unknown_field", "is not a field of this request"),
    ]
    assert field_errors(Event, {"title": "fine"}) == []
    assert field_errors(Event, ["not", "an", "object"])[0].reason == "type"


class Ticket(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    removed_fields: ClassVar[dict[str, str]] = {"seatUrl": "is no longer taken: send `seatId`"}

    seat_id: str = ""
    place: Place | None = None


def test_a_removed_field_is_refused_and_says_what_replaced_it():
    body = {"seatUrl": "https://a.example/1", "colour": "red", "place": {"streetName": "ok", "seatUrl": "x"}}
    assert field_errors(Ticket, body) == [
        BadField("place.seatUrl", "unknown_field", "is not a field of this request"),  # only where it was removed
        BadField("seatUrl", "unknown_field", "is no longer taken: send `seatId`"),
        BadField("colour", "unknown_field", "is not a field of this request"),
    ]
    assert msgspec.structs.fields(Ticket)[0].name == "seat_id"  # a ClassVar, not a field of the request


def test_messages_say_what_is_wrong_without_the_decoders_internals():
    assert explain("Expected `str` of length <= 10 - at `$.title`") == ("too_long", "takes at most 10 characters")
    assert explain("Expected `array` of length >= 1") == ("too_short", "needs at least 1 items")
    assert explain("Expected `str` matching regex '^[a-z]+$'")[1] == "is not in the expected format"
    assert explain("something new") == ("invalid", "is not valid")


async def test_three_bad_fields_get_one_answer_naming_all_three(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    body = {"name": "", "memberCap": -5, "entryMode": "sometimes"}
    answer = await client.post("/v1/communities", json=body, headers=bearer(tokens))
    assert answer.status_code == 400 and answer.json()["code"] == "validation_failed"
    errors = {error["field"]: error for error in answer.json()["errors"]}
    assert set(errors) == {"name", "memberCap", "entryMode"}
    assert [errors[f]["reason"] for f in ("name", "memberCap", "entryMode")] == [
        "too_short",
        "too_small",
        "not_allowed",
    ]
    assert all(error["source"] == "body" and "regex" not in error["message"] for error in errors.values())
    query = await client.get("/v1/communities?limit=1000", headers=bearer(tokens))
    assert query.json()["errors"] == [
        {"field": "limit", "message": "must be at most 100", "source": "query", "reason": "too_large"}
    ]


async def test_an_id_in_the_path_is_a_string_of_digits(client, sandbox):
    """Ids travel as strings, in paths too: anything but digits is a bad request, not a missing resource."""
    tokens = await login(client, sandbox.url, "alice")
    created = await client.post("/v1/communities", json={"name": "晨跑群"}, headers=bearer(tokens))
    community_id = created.json()["id"]
    assert isinstance(community_id, str)
    assert (await client.get(f"/v1/communities/{community_id}", headers=bearer(tokens))).status_code == 200
    for bad in ("abc", "0", "-1", "1.5", "9007199254740992"):
        answer = await client.get(f"/v1/communities/{bad}", headers=bearer(tokens))
        assert answer.status_code == 400, bad
        assert answer.json()["code"] == "validation_failed", bad
        assert answer.json()["errors"][0]["field"] == "community_id", bad
    assert (await client.get("/v1/communities/9007199254740991", headers=bearer(tokens))).status_code == 404


async def test_a_missing_required_query_parameter_is_named(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    community_id = (await client.post("/v1/communities", json={"name": "晨跑群"}, headers=bearer(tokens))).json()["id"]
    answer = await client.get(f"/v1/communities/{community_id}/leaderboard?to=2026-01-07", headers=bearer(tokens))
    assert answer.status_code == 400 and answer.json()["code"] == "validation_failed"
    assert answer.json()["errors"] == [
        {"field": "from", "message": "is required", "source": "query", "reason": "required"}
    ]


@pytest.mark.parametrize("query", ["limit=abc&limit=5", "limit=5&limit=abc", "order=hot&order=latest"])
async def test_a_query_parameter_given_twice_is_refused_whatever_its_values(client, sandbox, query):
    """No parameter takes a list; Litestar kept the last value, so `limit=abc&limit=5` was served, the same two
    the other way round refused, and `order=hot&order=latest` silently latest (also on the feed's lane)."""
    tokens = await login(client, sandbox.url, "alice")
    community_id = (await client.post("/v1/communities", json={"name": "晨跑群"}, headers=bearer(tokens))).json()["id"]
    for path in (f"/v1/communities/{community_id}/feed", f"/v1/communities/{community_id}/members"):
        problem = assert_problem(await client.get(f"{path}?{query}", headers=bearer(tokens)), 400, "validation_failed")
        name = query.split("=")[0]
        assert problem["errors"] == [
            {"field": name, "message": "must be given once", "source": "query", "reason": "not_allowed"}
        ]
    assert (
        await client.get(f"/v1/communities/{community_id}/feed?limit=5&order=hot", headers=bearer(tokens))
    ).is_success


async def test_numbers_and_booleans_sent_as_strings_are_refused(client, sandbox):
    """The spec types them as numbers and booleans; the decoder used to take "50" for 50 and "true" for true."""
    tokens = await login(client, sandbox.url, "alice")
    body = {"name": "晨跑群", "memberCap": "50", "priceFen": "990", "introductionRequired": "true"}
    answer = await client.post("/v1/communities", json=body, headers=bearer(tokens))
    problem = assert_problem(answer, 400, "validation_failed")
    assert {(e["field"], e["reason"], e["message"]) for e in problem["errors"]} == {
        ("memberCap", "type", "must be int"),
        ("priceFen", "type", "must be int | null"),
        ("introductionRequired", "type", "must be bool"),
    }
    mine = await client.get("/v1/me/communities", headers=bearer(tokens))
    assert mine.status_code == 200 and mine.json()["items"] == []  # nothing was created
    typed = {"name": "晨跑群", "entryMode": "paid", "memberCap": 50, "priceFen": 990, "introductionRequired": True}
    created = await client.post("/v1/communities", json=typed, headers=bearer(tokens))
    assert created.status_code == 201, created.text
    assert (created.json()["memberCap"], created.json()["introductionRequired"]) == (50, True)
    # Query parameters are text on the wire: they are still converted.
    assert (await client.get("/v1/communities?limit=5", headers=bearer(tokens))).status_code == 200


@pytest.mark.parametrize("nested", [b"[" * 1000 + b"]" * 1000, b'{"code":' * 1000 + b"1" + b"}" * 1000])
async def test_deeply_nested_json_is_refused_before_it_is_decoded(client, sandbox, nested, caplog):
    """1,000 levels raised RecursionError in the untyped decoding: a 500 and a logged traceback, token or not."""
    tokens = await login(client, sandbox.url, "alice")
    headers = {"content-type": "application/json"}
    for path, auth in (("/v1/auth/login", {}), ("/v1/communities", bearer(tokens))):
        answer = await client.post(path, content=nested, headers={**headers, **auth})
        problem = assert_problem(answer, 400, "json_too_deep")
        assert problem["userMessage"] == "提交的内容层级过深，无法处理。"
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    # Brackets inside strings are text, and 32 levels are still read (then judged by the model).
    deep_ok = b'{"name": "' + b"[" * 100 + b'", "tags": ' + b"[" * 31 + b"]" * 31 + b"}"
    answer = await client.post("/v1/communities", content=deep_ok, headers={**headers, **bearer(tokens)})
    assert_problem(answer, 400, "validation_failed")


def test_nesting_depth_is_counted_outside_strings():
    assert too_deep(b"[" * 33 + b"]" * 33) and not too_deep(b"[" * 32 + b"]" * 32)
    assert not too_deep(b'["' + b"[{" * 100 + b'"]')
    assert not too_deep(b'["\\"' + b"[" * 100 + b'"]')  # an escaped quote does not end the string


async def test_a_whole_number_written_with_a_zero_fraction_is_still_an_integer(client, sandbox):
    """JSON Schema's integer takes 199.0, so the strict decoder does too (the contract fuzzer sends it)."""
    tokens = await login(client, sandbox.url, "alice")
    body = b'{"name": "1.0 \\u7248 9.00", "memberCap": 199.0, "refundWindowHours": 114.00}'
    headers = {**bearer(tokens), "content-type": "application/json"}
    created = await client.post("/v1/communities", content=body, headers=headers)
    assert created.status_code == 201, created.text
    assert (created.json()["memberCap"], created.json()["name"]) == (199, "1.0 \u7248 9.00")  # text untouched
    fraction = await client.post("/v1/communities", json={"name": "x", "memberCap": 199.5}, headers=bearer(tokens))
    assert_problem(fraction, 400, "validation_failed")


@pytest.mark.parametrize("route", ["metrics", "leaderboard"])
@pytest.mark.parametrize("query", ["from=2026-01-01", "to=2026-01-07", "", "from=2026-01-01&to=soon"])
async def test_missing_or_invalid_query_parameters_answer_validation_failed(client, sandbox, route, query):
    """Schemathesis found `to` missing answered `bad_request`, a code these operations do not list."""
    tokens = await login(client, sandbox.url, "alice")
    community_id = (await client.post("/v1/communities", json={"name": "晨跑群"}, headers=bearer(tokens))).json()["id"]
    answer = await client.get(f"/v1/communities/{community_id}/{route}?{query}", headers=bearer(tokens))
    problem = assert_problem(answer, 400, "validation_failed")
    fields = {error["field"] for error in problem["errors"]}
    assert fields == {"from", "to"} - {part.split("=")[0] for part in query.split("&") if "soon" not in part}
    assert all(error["source"] == "query" for error in problem["errors"])


def test_an_event_batch_decoded_the_fast_way_is_the_one_decoded_the_usual_way():
    """EventBatch.decode_fast (POST /v1/events) answers what the nesting check and the strict decoding answer, or
    declines: over bodies with bad, escaped and non-ASCII ids, brackets in texts, unknown and nested fields,
    numbers with a zero fraction."""
    import random

    from service.interactions.models import EventBatch
    from service.validation import integral_numbers

    def usual(body: bytes) -> object:
        if too_deep(body):
            return "too deep"
        try:
            return msgspec.to_builtins(msgspec.json.decode(integral_numbers(body), type=EventBatch, strict=True))
        except msgspec.DecodeError:
            return "refused"

    ids = ["w1", "a.b:c-d_E", "", "x" * 64, "x" * 65, "a b", "\\u0041b", "\\u00e9", "é", "a\\n", '\\"', "[", "{x}"]
    numbers = ["1", "12345", "0", "01", "1" * 16, "1" * 17, "1\\n", "\\u0031", "١", "-1", "1.0", "[1]"]
    extras = ['"page":"[{"', '"page":"x"', '"x":1.0', '"x":[[[[1]]]]', '"x":{"y":[]}', '"dwellMs":4000.0']
    extras += ['"dwellMs":4000.5', '"dwellMs":"4000"', '"type":"nope"', '"at":"2026-12-01T00:00:00"', '"at":5']
    rng = random.Random(24)
    fast_ones = 0
    for _ in range(3000):
        events = []
        for n in range(rng.randint(1, 4)):
            fields = {
                "id": f'"{rng.choice(ids) if rng.random() < 0.3 else f"e{n}"}"',
                "type": '"post_view"',
                "communityId": f'"{rng.choice(numbers) if rng.random() < 0.2 else "7"}"',
                "postId": f'"{rng.choice(numbers) if rng.random() < 0.2 else "9"}"',
                "at": '"2026-12-01T00:00:00+00:00"',
            }
            text = ",".join(f'"{k}":{v}' for k, v in fields.items() if rng.random() > 0.03)
            if rng.random() < 0.3:
                text += "," + rng.choice(extras)
            events.append("{" + text + "}")
        body = ('{"events":[' + ",".join(events) + "]" + ("" if rng.random() > 0.05 else ',"x":[[]]') + "}").encode()
        fast = EventBatch.decode_fast(body)
        if fast is not None:
            fast_ones += 1
            assert msgspec.to_builtins(fast) == usual(body), body
    assert fast_ones > 300
