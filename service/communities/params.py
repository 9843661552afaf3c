"""What the communities routes share: their tag, the codes every route may answer, the `me`-or-id path
parameter."""

from __future__ import annotations

from typing import Annotated

from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter

from service.communities.problems import PROBLEMS
from service.core.guard import CurrentUser
from service.core.ids import MAX_ID
from service.errors import FieldError, Problem

TAG = "communities"
AUTH = ("unauthorized", "token_expired")
MEMBER = (*AUTH, "not_found", "not_member")
ADMIN = (*MEMBER, "forbidden")
# A text others read that WeChat's content check must pass outright (service/core/content.py `require_passed`).
CONTENT = ("content_rejected", "wechat_session_stale", "wechat_unavailable", "wechat_error")

UserRef = Annotated[
    str,
    PathParameter(
        pattern=r"^(me|[1-9][0-9]{0,15})$(?!\n)",
        description="`me` for yourself (your own settings; DELETE = leave), or a member's user id",
    ),
]


def _user_id(ref: str, user: CurrentUser, field: str = "user_id", source: str = "path") -> int:
    if ref == "me":
        return user.id
    value = int(ref)
    if value > MAX_ID:
        error = FieldError(field=field, message=f"must be `me` or an id up to {MAX_ID}", source=source)
        raise Problem("validation_failed", "invalid user id", errors=[error])
    return value


def _with_success(codes: tuple[str, ...], extra: dict[int, ResponseSpec]) -> dict[int, ResponseSpec]:
    return {**PROBLEMS.responses(*codes), **extra}
