"""What the polls routes declare alike: their tags, the problem codes each kind of caller may meet, and a
success response with its example."""

from __future__ import annotations

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from service.polls import examples as ex

POLLS_TAG = "polls"
TRIALS_TAG = "trials"
AUTH = ("unauthorized", "token_expired")
MEMBER = (*AUTH, "not_found", "not_member")
ADMIN = (*MEMBER, "forbidden")
# Poll routes answer app_disabled while the polls app is off; trials already granted stay reachable.
POLL_MEMBER = (*MEMBER, "app_disabled")
POLL_ADMIN = (*ADMIN, "app_disabled")
WECHAT = ("content_rejected", "wechat_session_stale", "wechat_unavailable", "wechat_error")


def ok(status: int, model: type, description: str, summary: str, value: msgspec.Struct) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            generate_examples=False, data_container=model, description=description, examples=ex.example(summary, value)
        )
    }
