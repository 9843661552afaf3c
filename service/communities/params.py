"""What the communities routes share: their tag, the codes every route may answer, the `me`-or-id path
parameter."""

from __future__ import annotations

from typing import Annotated

from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter

from service.communities.problems import PROBLEMS
from service.core.guard import CurrentUser
from service.core.ids import USER_REF_PATTERN, user_ref

TAG = "communities"
AUTH = ("unauthorized", "token_expired")
MEMBER = (*AUTH, "not_found", "not_member")
ADMIN = (*MEMBER, "forbidden")
# A text others read that WeChat's content check must pass outright (service/core/content.py `require_passed`).
CONTENT = ("content_rejected", "wechat_session_stale", "wechat_unavailable", "wechat_error")

UserRef = Annotated[
    str,
    PathParameter(
        pattern=USER_REF_PATTERN,
        description="`me` for yourself (your own settings; DELETE = leave), or a member's user id",
    ),
]


def _user_id(ref: str, user: CurrentUser, field: str = "user_id", source: str = "path") -> int:
    return user_ref(ref, user.id, field, source)


def _with_success(codes: tuple[str, ...], extra: dict[int, ResponseSpec]) -> dict[int, ResponseSpec]:
    return {**PROBLEMS.responses(*codes), **extra}
