"""Requests and answers of login, sessions and the member's own profile."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

import msgspec

from service.core.media import AvatarLink, MediaId, url_removed
from service.core.patterns import END
from service.core.text import INVISIBLE, REFUSED

# wx.login codes and phone-button codes: opaque printable ASCII.
WeChatCode = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$(?!\n)",
        examples=["0a3Xkq000Wb8yV1ZGz300nT2Jt3Xkq0S"],
        description="Code from wx.login",
    ),
]
RefreshToken = Annotated[
    str,
    msgspec.Meta(
        min_length=16,
        max_length=128,
        examples=["kq7wYc0bTz3H9vLx2mNf5RdA8sPjUe4G"],
        description="Refresh token from login",
    ),
]
# One line of visible text: the text policy (service/core/text.py), no line breaks or tabs, no surrounding blanks.
Nickname = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=32,
        pattern=rf"^[^{INVISIBLE}{REFUSED}](?:[^\x00-\x1f{REFUSED}]*[^{INVISIBLE}{REFUSED}])?{END}",
        description="1 to 32 characters, no control characters, no leading or trailing blanks",
    ),
]


class LoginRequest(msgspec.Struct, rename="camel"):
    code: WeChatCode


class RefreshRequest(msgspec.Struct, rename="camel"):
    refresh_token: RefreshToken


class PhoneRequest(msgspec.Struct, rename="camel"):
    code: Annotated[WeChatCode, msgspec.Meta(description="Code from the getPhoneNumber button")]


class Me(msgspec.Struct, rename="camel"):
    id: str
    nickname: str
    avatar_url: AvatarLink
    phone_number: Annotated[str, msgspec.Meta(description="E.164, e.g. +8613800138000")] | None
    created_at: datetime


class ProfileUpdate(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Fields to change; absent fields stay as they are."""

    removed_fields: ClassVar[dict[str, str]] = url_removed("avatarUrl", "avatar", "avatarMediaId")

    nickname: Nickname | None = None
    avatar_media_id: (
        Annotated[
            MediaId,
            msgspec.Meta(
                description="One of my uploads (purpose `avatar`): `avatarUrl` becomes its public link, which shows "
                "it once WeChat's image check approved it"
            ),
        ]
        | None
    ) = None


class Tokens(msgspec.Struct, rename="camel", kw_only=True):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: Annotated[int, msgspec.Meta(description="Seconds the access token lives")]
    refresh_token: str
    refresh_expires_in: Annotated[int, msgspec.Meta(description="Seconds the refresh token lives")]


class LoginResult(Tokens, kw_only=True):
    user: Me
    new_user: bool
    deletion_cancelled: Annotated[
        bool, msgspec.Meta(description="This login cancelled the account's pending deletion (DELETE /v1/me)")
    ] = False


class Deletion(msgspec.Struct, rename="camel", kw_only=True):
    """My account's deletion: pending (erased at `dueAt` unless I log in before) or none."""

    pending: bool
    requested_at: datetime | None = None
    due_at: Annotated[datetime | None, msgspec.Meta(description="When the account will be erased")] = None


class SessionInfo(msgspec.Struct, rename="camel"):
    user_id: str
    expires_at: datetime
