"""Property tests of the list cursors (service/paging.py): what a list gives out comes back as it went, and
anything else a client sends answers 400 `validation_failed`, never a 500."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from service.core.paging import decode_cursor, encode_cursor
from service.errors import Problem
from tests.wechat_support import bearer, login

ids = st.integers(min_value=1, max_value=2**53 - 1)
times = st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31))
scores = st.floats(allow_nan=False, allow_infinity=False)


@given(st.tuples(times, ids))
def test_a_time_and_id_cursor_comes_back_as_it_went(key):
    assert decode_cursor(encode_cursor(*key), datetime, int) == key


@given(st.tuples(scores, times, ids))
def test_a_score_cursor_comes_back_as_it_went(key):
    assert decode_cursor(encode_cursor(*key), float, datetime, int) == key


@given(ids)
def test_a_cursor_is_url_safe_and_within_the_documented_length(key):
    cursor = encode_cursor(key)
    assert len(cursor) <= 200 and all(c.isalnum() or c in "-_" for c in cursor)


@given(st.text(max_size=200))
@example("")
@example("W10")  # []
@example("WyJ4Il0")  # ["x"]
@example("WzEsMl0")  # [1,2]
@example("Wy0xXQ")  # [-1]: a key of the right shape is the list's to judge
@example(base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode())  # RecursionError: it was a 500
def test_any_other_string_is_a_cursor_or_a_400(text):
    try:
        key = decode_cursor(text, int)
    except Problem as problem:
        assert problem.code == "validation_failed" and problem.errors[0].field == "cursor"
    else:
        assert isinstance(key, tuple) and len(key) == 1 and isinstance(key[0], int)


@given(st.integers())
@example(2**63)
@example(-(2**63) - 1)
def test_a_forged_integer_reaches_the_database_only_within_bigint(number):
    # Found by this test: [99999999999999999999] decoded and went on to PostgreSQL, which failed (a 500).
    forged = base64.urlsafe_b64encode(f"[{number}]".encode()).decode().rstrip("=")
    try:
        (key,) = decode_cursor(forged, int)
    except Problem:
        assert not -(2**63) <= number < 2**63
    else:
        assert key == number and -(2**63) <= key < 2**63


@given(st.tuples(times, ids))
def test_a_cursor_of_one_list_is_refused_by_a_list_of_another_shape(key):
    try:
        decode_cursor(encode_cursor(*key), int)
    except Problem as problem:
        assert problem.code == "validation_failed"
    else:
        raise AssertionError("a two-part cursor was read as one part")


# RFC 3339 offsets are whole minutes.
offsets = st.integers(-23 * 60, 23 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))


@given(st.datetimes(timezones=offsets), ids)
@example(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), 1)
@example(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=14))), 1)
def test_a_forged_time_reaches_the_database_only_within_the_calendar(moment, number):
    # Found by this test: year 1 at +14:00 is year 0 in UTC, which PostgreSQL refused with a 500.
    forged = encode_cursor(moment, number)
    try:
        key = decode_cursor(forged, datetime, int)
    except Problem:
        with pytest.raises(OverflowError):
            moment.astimezone(UTC)
    else:
        assert key[0] == moment and key[0].astimezone(UTC)


async def test_a_forged_cursor_past_bigint_is_400_over_http(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    forged = base64.urlsafe_b64encode(b"[99999999999999999999]").decode().rstrip("=")
    response = await client.get("/v1/communities", params={"cursor": forged}, headers=bearer(tokens))
    assert response.status_code == 400 and response.json()["code"] == "validation_failed", response.text
