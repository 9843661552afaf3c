"""Who may call each route, asserted over HTTP for every operation in the spec, in two layers.

The spec's `security` of an operation is its first rule: `bearer` routes answer 401 to a caller without a
token, `operator` routes answer 403 `operator_only` without the operator key, and a route with no
security must be listed in PUBLIC with the reason it is open. A new route that declares no rule, or
declares one it does not enforce, fails here.

ROLE_MATRIX is the second: one row per operation naming the roles admitted (anonymous, stranger, member,
the author of the row named, admin, owner, operator), each role called over HTTP on a seeded community.
A new route without a row fails.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from PIL import Image

from tests.seed import OPERATOR as OPERATOR_HEADERS
from tests.seed import Seeded, Seeder, User, local_window, seeder_in
from tests.stack import LiveStack, Stack
from tests.support import ROOT

SPEC = json.loads((ROOT / "openapi" / "openapi.json").read_text())

PUBLIC = {
    ("GET", "/healthz"): "probe",
    ("GET", "/readyz"): "probe",
    ("POST", "/v1/auth/login"): "exchanges a wx.login code",
    ("POST", "/v1/auth/refresh"): "presents a refresh token",
    ("POST", "/v1/auth/logout"): "presents a refresh token",
    ("POST", "/v1/pay/notify"): "WeChat Pay, verified by its platform signature",
    ("POST", "/v1/pay/refund-notify"): "WeChat Pay, verified by its platform signature",
    ("POST", "/v1/pay/transfer-notify"): "WeChat Pay, verified by its platform signature",
    ("GET", "/v1/wechat/messages"): "WeChat's URL check, verified by its signature",
    ("POST", "/v1/wechat/messages"): "WeChat's message push, verified by its signature",
    ("GET", "/v1/media/files/{name}"): "a stored image behind a link we signed (HMAC) that expires",
    ("GET", "/v1/media/public/{media_id}"): "an approved avatar or cover: shown to anyone, like the profile it is on",
    ("GET", "/v1/shares/{code}"): "a shared post's preview: what a member chose to show anyone, visible posts only",
}

OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if method in {"get", "post", "put", "patch", "delete"}
]


def rule(operation: dict) -> str:
    schemes = {name for requirement in operation.get("security") or [] for name in requirement}
    return "operator" if "operator" in schemes else "bearer" if "bearer" in schemes else "public"


def example_body(operation: dict) -> dict | None:
    content = (operation.get("requestBody") or {}).get("content", {}).get("application/json")
    if content is None:
        return None
    for example in (content.get("examples") or {}).values():
        if isinstance(example, dict) and "value" in example:
            return example["value"]
    return content.get("example", {})


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.fixture(scope="module")
def anonymous(live: Stack) -> Iterator[httpx.Client]:
    """A caller without credentials, on the module's stack: refused calls change nothing, so one database does."""
    with httpx.Client(base_url=live.api_url, timeout=30) as client:
        yield client


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_route_enforces_its_rule(anonymous: httpx.Client, method, path, operation):
    kind = rule(operation)
    if kind == "public":
        assert (method, path) in PUBLIC, f"{method} {path} declares no security: add it to PUBLIC with a reason"
        return
    body = example_body(operation)
    response = anonymous.request(method, concrete(path), json=body)
    if kind == "bearer":
        assert response.status_code == 401, f"{method} {path} without a token: {response.status_code}"
        assert response.json()["code"] == "unauthorized"
        forged = anonymous.request(method, concrete(path), json=body, headers={"Authorization": "Bearer not.a.token"})
        assert forged.status_code == 401
    else:
        assert response.status_code == 403 and response.json()["code"] == "operator_only", response.text


def test_public_routes_are_all_in_the_spec():
    documented = {(m, p) for m, p, _ in OPERATIONS}
    missing = {route for route in PUBLIC if route not in documented and not route[1].startswith("/v1/wechat")}
    assert missing == set()


# -- the role matrix -------------------------------------------------------------------------------------
#
# Who may call each operation, by role in the seeded community (tests/seed.py): anonymous (no token),
# stranger (logged in, not a member), member, author (a member who owns the row the path names), admin,
# owner, and the platform operator (X-Operator-Key, no token). Every role a row does not admit must be
# refused (401, 403 or 404 with a refusal code) and is called first, on the same rows as the admitted ones;
# every role it admits must get a 2xx (or a status the row accepts: the role may, the state says no). Rows
# whose call changes or removes what it names get a fresh row for every call (`fresh_*` targets). A route
# of the spec without a row fails.

ROLES = ("anonymous", "stranger", "member", "author", "admin", "owner", "operator")
MEMBERS = frozenset({"member", "author", "admin", "owner"})
ADMINS = frozenset({"admin", "owner"})
SIGNED_IN = MEMBERS | {"stranger"}
EVERYONE = frozenset(ROLES)
AUTHOR = frozenset({"author"})
AUTHOR_OR_ADMINS = AUTHOR | ADMINS
OWNER = frozenset({"owner"})
OPERATOR = frozenset({"operator"})
NOBODY = frozenset()  # WeChat's calls: only its signature admits, whoever else calls
REFUSALS = {
    "unauthorized",
    "forbidden",
    "not_found",
    "not_member",
    "operator_only",
    "not_trial_holder",
    "not_participant",
    "invite_not_found",  # someone else's invite link, as if it did not exist
    "reward_not_found",  # someone else's reward, likewise
}


@dataclass(frozen=True)
class Row:
    allowed: frozenset[str]
    target: str | None = None  # a TARGETS entry: the path parameters (and body) to call with, made per call
    body: dict | None = None
    accept: tuple[int, ...] = ()  # besides 2xx, for the admitted roles
    query: dict | None = None


def at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


TEXT = {"text": "今天跑了五公里，天气很好"}
WEEK = {"from": str(datetime.now(UTC).date() - timedelta(days=7)), "to": str(datetime.now(UTC).date())}
ROLE_MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/healthz"): Row(EVERYONE),
    ("GET", "/readyz"): Row(EVERYONE),
    ("POST", "/v1/auth/login"): Row(EVERYONE, "login_code", {"code": "{login_code}"}),
    ("POST", "/v1/auth/refresh"): Row(EVERYONE, "refresh_token", {"refreshToken": "{refresh_token}"}),
    ("POST", "/v1/auth/logout"): Row(EVERYONE, "refresh_token", {"refreshToken": "{refresh_token}"}),
    ("POST", "/v1/auth/phone"): Row(SIGNED_IN, "phone_code", {"code": "{phone_code}"}),
    ("GET", "/v1/auth/session"): Row(SIGNED_IN),
    ("GET", "/v1/me"): Row(SIGNED_IN),
    ("PUT", "/v1/me"): Row(SIGNED_IN, body={"nickname": "小林"}),
    ("GET", "/v1/me/communities"): Row(SIGNED_IN),
    ("GET", "/v1/me/rewards"): Row(SIGNED_IN),
    ("POST", "/v1/me/rewards/{reward_id}/transfer"): Row(AUTHOR, "own_reward"),
    ("GET", "/v1/me/trials"): Row(SIGNED_IN),
    # The owner must hand the community over first (409); the others start a deletion that a login cancels.
    ("DELETE", "/v1/me"): Row(SIGNED_IN, accept=(409,)),
    ("GET", "/v1/me/deletion"): Row(SIGNED_IN),
    ("GET", "/v1/me/export"): Row(SIGNED_IN),
    ("GET", "/v1/feed"): Row(SIGNED_IN),
    ("GET", "/v1/apps"): Row(SIGNED_IN),
    ("POST", "/v1/events"): Row(SIGNED_IN, "events"),
    ("POST", "/v1/presence/heartbeat"): Row(MEMBERS, body={"communityId": "{community_id}"}),
    ("POST", "/v1/pay/notify"): Row(NOBODY, body={}),
    ("POST", "/v1/pay/refund-notify"): Row(NOBODY, body={}),
    ("POST", "/v1/pay/transfer-notify"): Row(NOBODY, body={}),
    ("GET", "/v1/wechat/messages"): Row(NOBODY),
    ("POST", "/v1/wechat/messages"): Row(NOBODY),
    # Photos: an upload is its uploader's alone until it is used; its file links work for whoever holds one.
    ("POST", "/v1/media"): Row(SIGNED_IN, "photo"),
    ("GET", "/v1/media/{media_id}"): Row(AUTHOR, "own_media"),
    ("GET", "/v1/media/files/{name}"): Row(EVERYONE, "media_file"),
    # Not yet approved by WeChat (no check runs here): every role gets the same 404.
    ("GET", "/v1/media/public/{media_id}"): Row(NOBODY, "own_media"),
    # Communities and belonging.
    ("GET", "/v1/communities"): Row(SIGNED_IN),
    ("POST", "/v1/communities"): Row(SIGNED_IN, body={"name": "新社群"}),
    ("GET", "/v1/communities/{community_id}"): Row(SIGNED_IN),
    ("PUT", "/v1/communities/{community_id}"): Row(ADMINS, body={"description": "每周六早上一起跑"}),
    ("POST", "/v1/communities/{community_id}/join"): Row(SIGNED_IN, "fresh_community", {}),
    ("GET", "/v1/communities/{community_id}/members"): Row(MEMBERS),
    ("PUT", "/v1/communities/{community_id}/members/{user_id}"): Row(ADMINS, "fresh_community", {"muteMinutes": 10}),
    # The author named by the path leaves (as with `me`); admins remove them.
    ("DELETE", "/v1/communities/{community_id}/members/{user_id}"): Row(ADMINS | AUTHOR, "fresh_community"),
    ("POST", "/v1/communities/{community_id}/introduction"): Row(MEMBERS, body={"text": "大家好，我是小林"}),
    ("POST", "/v1/communities/{community_id}/read"): Row(MEMBERS),
    ("GET", "/v1/communities/{community_id}/invites"): Row(MEMBERS),
    ("POST", "/v1/communities/{community_id}/invites"): Row(MEMBERS, body={}),
    ("DELETE", "/v1/communities/{community_id}/invites/{code}"): Row(AUTHOR_OR_ADMINS, "fresh_invite"),
    ("GET", "/v1/communities/{community_id}/join-requests"): Row(ADMINS),
    ("POST", "/v1/communities/{community_id}/join-requests/{request_id}/approve"): Row(ADMINS, "fresh_request"),
    ("POST", "/v1/communities/{community_id}/join-requests/{request_id}/reject"): Row(
        ADMINS, "fresh_request", {"reason": "请先填写申请理由"}
    ),
    ("GET", "/v1/communities/{community_id}/newcomers"): Row(ADMINS),
    ("GET", "/v1/communities/{community_id}/audit-log"): Row(ADMINS),
    ("POST", "/v1/communities/{community_id}/ownership-transfer"): Row(
        OWNER, "fresh_community", {"userId": "{admin_id}"}
    ),
    ("GET", "/v1/communities/{community_id}/orders"): Row(ADMINS),
    ("POST", "/v1/communities/{community_id}/orders/{order_id}/refund"): Row(
        ADMINS, "fresh_entry_order", {"reason": "活动取消"}
    ),
    ("GET", "/v1/communities/{community_id}/earnings"): Row(ADMINS),
    # Nothing is past its refund window in the matrix's community: the owner is told so.
    ("POST", "/v1/communities/{community_id}/payouts"): Row(OWNER, accept=(409,)),
    ("GET", "/v1/communities/{community_id}/payouts"): Row(ADMINS),
    ("GET", "/v1/communities/{community_id}/metrics"): Row(ADMINS, query=WEEK),
    ("GET", "/v1/communities/{community_id}/leaderboard"): Row(MEMBERS, query=WEEK),
    ("GET", "/v1/communities/{community_id}/timezone"): Row(MEMBERS),
    ("PUT", "/v1/communities/{community_id}/timezone"): Row(OWNER, body={"timeZone": "Asia/Shanghai"}),
    # Apps: switching on a free app that is on answers 200; renewing one that is not monthly is refused.
    ("GET", "/v1/communities/{community_id}/apps"): Row(MEMBERS),
    ("PUT", "/v1/communities/{community_id}/apps/{app}"): Row(OWNER),
    ("DELETE", "/v1/communities/{community_id}/apps/{app}"): Row(OWNER, "fresh_community"),
    ("POST", "/v1/communities/{community_id}/apps/{app}/renewal"): Row(OWNER, accept=(409,)),
    ("PUT", "/v1/admin/apps/{app}/price"): Row(OPERATOR, "unused_app", {"billing": "monthly", "priceFen": 990}),
    ("DELETE", "/v1/admin/apps/{app}/price"): Row(OPERATOR, "unused_app"),
    # Feed.
    ("GET", "/v1/communities/{community_id}/feed"): Row(MEMBERS),
    ("GET", "/v1/communities/{community_id}/essence"): Row(MEMBERS),
    ("GET", "/v1/communities/{community_id}/for-you"): Row(MEMBERS),
    ("GET", "/v1/communities/{community_id}/search"): Row(MEMBERS, query={"q": "跑步"}),
    ("GET", "/v1/communities/{community_id}/members/{user_id}"): Row(MEMBERS),
    ("GET", "/v1/communities/{community_id}/members/{user_id}/posts"): Row(MEMBERS),
    ("POST", "/v1/communities/{community_id}/pins"): Row(ADMINS, body={"postId": "{post_id}"}),
    ("DELETE", "/v1/communities/{community_id}/pins/{post_id}"): Row(ADMINS),
    ("POST", "/v1/communities/{community_id}/posts"): Row(MEMBERS, body=TEXT),
    ("GET", "/v1/posts/{post_id}"): Row(MEMBERS),
    ("PUT", "/v1/posts/{post_id}"): Row(AUTHOR, body={"text": "今天跑了十公里"}),
    ("DELETE", "/v1/posts/{post_id}"): Row(AUTHOR_OR_ADMINS, "fresh_post"),
    ("GET", "/v1/posts/{post_id}/comments"): Row(MEMBERS),
    ("POST", "/v1/posts/{post_id}/comments"): Row(MEMBERS, body={"text": "加油，一起跑"}),
    ("DELETE", "/v1/comments/{comment_id}"): Row(AUTHOR_OR_ADMINS, "fresh_comment"),
    ("PUT", "/v1/posts/{post_id}/like"): Row(MEMBERS),
    ("DELETE", "/v1/posts/{post_id}/like"): Row(MEMBERS),
    ("POST", "/v1/posts/{post_id}/share"): Row(MEMBERS, body={"target": "chat"}),
    ("GET", "/v1/shares/{code}"): Row(EVERYONE, "share_code"),
    # Anyone logged in records the group a share reached; data no session key of theirs sealed is refused (400).
    ("POST", "/v1/shares/{code}/group-opens"): Row(
        SIGNED_IN, "share_code", {"encryptedData": "A" * 43 + "=", "iv": "r7BXXKkLb8qrSNn05n0qiA=="}, accept=(400,)
    ),
    ("GET", "/v1/communities/{community_id}/share-reach"): Row(ADMINS),
    ("GET", "/v1/communities/{community_id}/referrals"): Row(MEMBERS),
    ("GET", "/v1/communities/{community_id}/stage"): Row(ADMINS),
    # Interests: my tags (members), the community's (admins), and my opt-out of the robot's introductions.
    ("GET", "/v1/communities/{community_id}/interests"): Row(ADMINS),
    ("GET", "/v1/communities/{community_id}/interests/mine"): Row(MEMBERS),
    ("GET", "/v1/me/interest-settings"): Row(SIGNED_IN),
    ("PUT", "/v1/me/interest-settings"): Row(SIGNED_IN, body={"introductions": True}),
    ("GET", "/v1/communities/{community_id}/invites/{code}/poster"): Row(AUTHOR_OR_ADMINS, "fresh_invite"),
    ("PUT", "/v1/posts/{post_id}/essence"): Row(ADMINS),
    ("DELETE", "/v1/posts/{post_id}/essence"): Row(ADMINS),
    # Robots.
    ("GET", "/v1/communities/{community_id}/robot-rules"): Row(ADMINS),
    ("POST", "/v1/communities/{community_id}/robot-rules"): Row(ADMINS, body={"keyword": "报名", "reply": "看群公告"}),
    ("PUT", "/v1/robot-rules/{rule_id}"): Row(ADMINS, body={"enabled": True}),
    ("DELETE", "/v1/robot-rules/{rule_id}"): Row(ADMINS, "fresh_rule"),
    ("GET", "/v1/communities/{community_id}/warmup"): Row(ADMINS),
    ("PUT", "/v1/communities/{community_id}/warmup"): Row(ADMINS, body={"quietMinutes": 120}),
    ("GET", "/v1/communities/{community_id}/warmup/topics"): Row(ADMINS),
    ("POST", "/v1/communities/{community_id}/warmup/topics"): Row(ADMINS, body={"text": "大家最近在读什么书？"}),
    ("PUT", "/v1/communities/{community_id}/warmup/topics/{topic_id}"): Row(ADMINS, body={"position": 1}),
    ("DELETE", "/v1/communities/{community_id}/warmup/topics/{topic_id}"): Row(ADMINS, "fresh_topic"),
    # Checkout and collections.
    ("GET", "/v1/orders/{order_id}"): Row(AUTHOR),
    ("POST", "/v1/orders/{order_id}/refund"): Row(AUTHOR, "own_entry_order", {"reason": "不想参加了"}),
    ("GET", "/v1/transfers/{transfer_id}"): Row(AUTHOR),
    ("GET", "/v1/communities/{community_id}/collections"): Row(MEMBERS),
    ("POST", "/v1/communities/{community_id}/collections"): Row(
        MEMBERS, body={"title": "周六烧烤 AA", "amountFen": 4500}
    ),
    ("GET", "/v1/collections/{collection_id}"): Row(MEMBERS),
    ("POST", "/v1/collections/{collection_id}/pay"): Row(MEMBERS - AUTHOR, "fresh_collection"),
    ("POST", "/v1/collections/{collection_id}/cancel"): Row(AUTHOR_OR_ADMINS, "fresh_collection", {}),
    # Rewards.
    ("POST", "/v1/admin/reward-pools"): Row(OPERATOR, "reward_pool_body"),
    ("GET", "/v1/admin/reward-pools/{pool_id}"): Row(OPERATOR),
    # Nothing rolled up yet in the seeded world: nothing_to_allocate, after the operator check.
    ("POST", "/v1/admin/reward-pools/{pool_id}/commit"): Row(OPERATOR, "fresh_pool", accept=(409,)),
    ("POST", "/v1/reports"): Row(
        MEMBERS, "newcomers_post", {"targetKind": "post", "targetId": "{post_id}", "reason": "spam"}
    ),
    ("GET", "/v1/me/reports"): Row(SIGNED_IN),
    ("GET", "/v1/me/notifications"): Row(SIGNED_IN),
    ("GET", "/v1/me/notifications/unread-count"): Row(SIGNED_IN),
    ("POST", "/v1/me/notifications/read"): Row(SIGNED_IN, body={"upToId": "1000"}),
    # Over plain HTTP the socket's path answers 426 to whoever signed in (tests/live open the WebSocket).
    ("GET", "/v1/live"): Row(SIGNED_IN, accept=(426,)),
    ("GET", "/v1/me/removals"): Row(SIGNED_IN),
    ("POST", "/v1/me/blocks"): Row(SIGNED_IN, "new_user", {"userId": "{new_user_id}"}),
    ("GET", "/v1/me/blocks"): Row(SIGNED_IN),
    ("DELETE", "/v1/me/blocks/{user_id}"): Row(SIGNED_IN),
    ("GET", "/v1/communities/{community_id}/moderation"): Row(ADMINS),
    ("GET", "/v1/moderation/cases/{case_id}"): Row(ADMINS, "fresh_case"),
    ("POST", "/v1/moderation/cases/{case_id}/decision"): Row(ADMINS, "fresh_case", {"action": "approve"}),
    ("GET", "/v1/admin/moderation"): Row(OPERATOR),
    ("POST", "/v1/admin/moderation/{case_id}/decision"): Row(OPERATOR, "fresh_staff_case", {"action": "approve"}),
    # Polls and trials: the seeded poll is in its proposal phase; `voting` and `closed` are the others.
    ("GET", "/v1/communities/{community_id}/polls"): Row(MEMBERS),
    ("POST", "/v1/communities/{community_id}/polls"): Row(ADMINS, "poll_body"),
    ("GET", "/v1/polls/{poll_id}"): Row(MEMBERS),
    ("POST", "/v1/polls/{poll_id}/advance"): Row(ADMINS, "fresh_poll"),
    ("POST", "/v1/polls/{poll_id}/close"): Row(ADMINS, "fresh_poll"),
    ("GET", "/v1/polls/{poll_id}/audit"): Row(MEMBERS, "closed_poll"),  # admins before the close too
    ("GET", "/v1/polls/{poll_id}/proposals"): Row(MEMBERS),
    ("POST", "/v1/polls/{poll_id}/proposals"): Row(MEMBERS, "proposal_name", {"name": "{name}"}),
    ("PUT", "/v1/polls/{poll_id}/proposals/{proposal_id}"): Row(ADMINS, "fresh_poll", {"status": "hidden"}),
    ("POST", "/v1/polls/{poll_id}/proposals/{proposal_id}/merge"): Row(
        ADMINS, "fresh_poll", {"intoProposalId": "{other_proposal_id}"}
    ),
    ("POST", "/v1/polls/{poll_id}/votes"): Row(MEMBERS, "voting_poll", {"proposalId": "{proposal_id}"}, (409,)),
    ("PUT", "/v1/polls/{poll_id}/votes"): Row(MEMBERS, "voting_poll", {"proposalIds": ["{proposal_id}"]}),
    ("DELETE", "/v1/polls/{poll_id}/votes/{proposal_id}"): Row(MEMBERS, "voted"),
    ("GET", "/v1/polls/{poll_id}/results"): Row(MEMBERS, "closed_poll"),
    ("GET", "/v1/polls/{poll_id}/trials"): Row(ADMINS, "closed_poll"),
    ("GET", "/v1/polls/{poll_id}/feedback"): Row(ADMINS, "closed_poll"),
    ("POST", "/v1/trials/{trial_id}/claim"): Row(AUTHOR, body={"deliveryNote": "上海市徐汇区某路 1 号"}),
    ("POST", "/v1/trials/{trial_id}/ship"): Row(ADMINS, "fresh_trial", {"shippingNote": "顺丰 SF1234567890"}),
    ("POST", "/v1/trials/{trial_id}/feedback"): Row(AUTHOR, "fresh_trial", {"rating": 5, "text": "很好喝"}),
    ("POST", "/v1/trials/{trial_id}/feedback/share"): Row(AUTHOR, "trial_with_feedback"),
    # Trial places for points: the seeded community has no brand, so whoever may ask is told points_not_spendable
    # (tests/polls/test_points_redemption.py covers the rest); members are refused the offer, strangers everything.
    ("PUT", "/v1/polls/{poll_id}/trial-points"): Row(ADMINS, body={"price": 30, "places": 5}, accept=(409,)),
    ("DELETE", "/v1/polls/{poll_id}/trial-points"): Row(ADMINS),
    ("POST", "/v1/polls/{poll_id}/trial-redemptions"): Row(MEMBERS, accept=(409,)),
    ("GET", "/v1/me/points"): Row(SIGNED_IN, "brand_points"),
    # Activities.
    ("GET", "/v1/communities/{community_id}/activities"): Row(MEMBERS),
    ("POST", "/v1/communities/{community_id}/activities"): Row(ADMINS, "activity_body"),
    ("GET", "/v1/activities/{activity_id}"): Row(MEMBERS),
    ("PUT", "/v1/activities/{activity_id}"): Row(ADMINS, body={"title": "早起打卡第二季"}),
    ("DELETE", "/v1/activities/{activity_id}"): Row(ADMINS, "fresh_activity"),
    ("GET", "/v1/activities/{activity_id}/check-ins"): Row(MEMBERS),
    ("POST", "/v1/activities/{activity_id}/check-ins"): Row(MEMBERS, body={"text": "六点起床，跑了五公里"}),
    ("GET", "/v1/activities/{activity_id}/occurrences"): Row(MEMBERS),
    ("GET", "/v1/activities/{activity_id}/ranking"): Row(MEMBERS),
    # Meetups: the seeded one starts in three days, so the venue door is not open yet.
    ("GET", "/v1/communities/{community_id}/meetups"): Row(MEMBERS),
    ("POST", "/v1/communities/{community_id}/meetups"): Row(ADMINS, "meetup_body"),
    ("GET", "/v1/meetups/{meetup_id}"): Row(MEMBERS),
    ("PUT", "/v1/meetups/{meetup_id}"): Row(ADMINS, body={"capacity": 20}),
    ("POST", "/v1/meetups/{meetup_id}/cancel"): Row(ADMINS, "fresh_meetup", {}),
    ("GET", "/v1/meetups/{meetup_id}/signups"): Row(ADMINS),
    ("POST", "/v1/meetups/{meetup_id}/signups"): Row(MEMBERS, "fresh_meetup"),
    ("DELETE", "/v1/meetups/{meetup_id}/signups/me"): Row(MEMBERS, "signed_up"),
    ("GET", "/v1/meetups/{meetup_id}/venue-code"): Row(ADMINS),
    ("POST", "/v1/meetups/{meetup_id}/attendance"): Row(MEMBERS, "venue_code", {"code": "{venue}"}, (409,)),
    # Brands: the owner of the seeded community owns the brand, its admin is a brand admin (docs/brands.md).
    ("POST", "/v1/brands"): Row(SIGNED_IN, body={"name": "新品牌"}),
    ("GET", "/v1/brands/{brand_id}"): Row(ADMINS, "fresh_brand"),
    ("PUT", "/v1/brands/{brand_id}/defaults"): Row(ADMINS, "fresh_brand", {"introductionRequired": True}),
    ("GET", "/v1/brands/{brand_id}/export"): Row(ADMINS, "fresh_brand"),
    ("GET", "/v1/communities/{community_id}/export"): Row(ADMINS, query={"report": "orders"}),
    ("PUT", "/v1/brands/{brand_id}/admins/{user_id}"): Row(OWNER, "fresh_brand"),
    ("DELETE", "/v1/brands/{brand_id}/admins/{user_id}"): Row(OWNER, "fresh_brand"),
    # To the brand's admin (the matrix's admin role).
    ("POST", "/v1/brands/{brand_id}/ownership-transfer"): Row(OWNER, "fresh_brand", {"userId": "{admin_id}"}),
    # Only the community's own owner, on the brand's team, attaches it.
    ("POST", "/v1/brands/{brand_id}/communities"): Row(OWNER, "fresh_brand", {"communityId": "{community_id}"}),
    ("POST", "/v1/brands/{brand_id}/series"): Row(
        ADMINS, "branded_community", {"communityId": "{community_id}", "name": "跑团"}
    ),
    ("GET", "/v1/series/{series_id}"): Row(SIGNED_IN, "fresh_series"),
    # Brand-funded reward pools: the brand's owner funds, commits and cancels; its team reads. An unpaid pool's
    # commit answers pool_not_paid (409) to the owner.
    ("POST", "/v1/brands/{brand_id}/reward-pools"): Row(OWNER, "brand_pool_body"),
    ("GET", "/v1/brands/{brand_id}/reward-pools/{pool_id}"): Row(ADMINS, "brand_pool"),
    ("POST", "/v1/brands/{brand_id}/reward-pools/{pool_id}/pay"): Row(OWNER, "brand_pool"),
    ("POST", "/v1/brands/{brand_id}/reward-pools/{pool_id}/commit"): Row(OWNER, "brand_pool", accept=(409,)),
    ("POST", "/v1/brands/{brand_id}/reward-pools/{pool_id}/cancel"): Row(OWNER, "brand_pool"),
}


async def _new_user(s: Seeder) -> User:
    return await s.user(f"matrix-{uuid.uuid4().hex[:10]}")


async def _new_user_id(s: Seeder) -> dict:
    return {"new_user_id": (await _new_user(s)).id}


async def _fresh_community(s: Seeder, seeded: Seeded, role: str) -> dict:
    u = seeded.users
    cid = await s.community(u["owner"], u["admin"], u["author"], u["member"])
    await s.promote(u["owner"], cid, u["admin"])
    return {"community_id": cid, "user_id": u["author"].id, "admin_id": u["admin"].id}


async def _fresh_brand(s: Seeder, seeded: Seeded, role: str) -> dict:
    """A brand of the owner with the admin on its team, and a community of the owner outside any brand."""
    u = seeded.users
    brand_id = (await s.call("POST", "/v1/brands", u["owner"], json={"name": "品牌"}))["id"]
    await s.call("PUT", f"/v1/brands/{brand_id}/admins/{u['admin'].id}", u["owner"])
    cid = await s.community(u["owner"], u["author"], u["member"])
    return {"brand_id": brand_id, "community_id": cid, "user_id": u["author"].id, "admin_id": u["admin"].id}


async def _brand_points(s: Seeder, seeded: Seeded, role: str) -> dict:
    target = await _fresh_brand(s, seeded, role)
    return {"query": {"brandId": target["brand_id"]}}


async def _branded_community(s: Seeder, seeded: Seeded, role: str) -> dict:
    target = await _fresh_brand(s, seeded, role)
    body = {"communityId": target["community_id"]}
    await s.call("POST", f"/v1/brands/{target['brand_id']}/communities", seeded.users["owner"], json=body)
    return target


async def _brand_pool_body(s: Seeder, seeded: Seeded, role: str) -> dict:
    target = await _branded_community(s, seeded, role)
    today = datetime.now(UTC).date()
    return {"brand_id": target["brand_id"], "body": {"amountFen": 1000, "start": str(today), "end": str(today)}}


async def _brand_pool(s: Seeder, seeded: Seeded, role: str) -> dict:
    """An unpaid pool of a brand with one community, created by the brand's owner."""
    target = await _brand_pool_body(s, seeded, role)
    path = f"/v1/brands/{target['brand_id']}/reward-pools"
    pool = await s.call("POST", path, seeded.users["owner"], (201,), json=target["body"])
    return {"brand_id": target["brand_id"], "pool_id": pool["id"]}


async def _fresh_series(s: Seeder, seeded: Seeded, role: str) -> dict:
    target = await _branded_community(s, seeded, role)
    body = {"communityId": target["community_id"], "name": "跑团"}
    series = await s.call("POST", f"/v1/brands/{target['brand_id']}/series", seeded.users["owner"], json=body)
    return {"series_id": series["id"]}


async def _fresh_poll(s: Seeder, seeded: Seeded, role: str) -> dict:
    u, cid = seeded.users, seeded.ids["community_id"]
    poll_id = await s.poll(u["admin"], cid)
    mine, other = await s.proposal(u["author"], poll_id), await s.proposal(u["member"], poll_id)
    return {"poll_id": poll_id, "proposal_id": mine, "other_proposal_id": other}


async def _fresh_trial(s: Seeder, seeded: Seeded, role: str) -> dict:
    u = seeded.users
    _, trial_id = await s.trial(u["admin"], u["author"], u["member"], seeded.ids["community_id"])
    await s.claim(u["author"], trial_id)
    return {"trial_id": trial_id}


async def _trial_with_feedback(s: Seeder, seeded: Seeded, role: str) -> dict:
    target = await _fresh_trial(s, seeded, role)
    body = {"rating": 4, "text": "口感顺滑"}
    await s.call("POST", f"/v1/trials/{target['trial_id']}/feedback", seeded.users["author"], json=body)
    return target


async def _own_entry_order(s: Seeder, seeded: Seeded, role: str) -> dict:
    u = seeded.users
    cid = await s.community(u["owner"], entryMode="paid", priceFen=990)
    return {"order_id": (await s.join(u["author"], cid))["order"]["id"]}


async def _fresh_entry_order(s: Seeder, seeded: Seeded, role: str) -> dict:
    paid = seeded.extra["paid_community_id"]
    return {"community_id": paid, "order_id": (await s.join(await _new_user(s), paid))["order"]["id"]}


async def _fresh_request(s: Seeder, seeded: Seeded, role: str) -> dict:
    approval = seeded.extra["approval_community_id"]
    return {"community_id": approval, "request_id": await s.join_request(await _new_user(s), approval)}


async def _voted(s: Seeder, seeded: Seeded, role: str) -> dict:
    target = {"poll_id": seeded.extra["voting_poll_id"], "proposal_id": seeded.extra["voting_proposal_id"]}
    if role in MEMBERS:
        await s.call("POST", "/v1/polls/{poll_id}/votes".format(**target), seeded.users[role], (201, 409),
                     json={"proposalId": target["proposal_id"]})  # fmt: skip
    return target


async def _signed_up(s: Seeder, seeded: Seeded, role: str) -> dict:
    meetup_id = await s.meetup(seeded.users["admin"], seeded.ids["community_id"])
    if role in MEMBERS:
        await s.sign_up(seeded.users[role], meetup_id)
    return {"meetup_id": meetup_id}


async def _venue_code(s: Seeder, seeded: Seeded, role: str) -> dict:
    venue = await s.call("GET", f"/v1/meetups/{seeded.ids['meetup_id']}/venue-code", seeded.users["admin"])
    return {"venue": venue["code"]}


async def _unused_app(s: Seeder, seeded: Seeded, role: str) -> dict:
    async def free_again() -> None:  # a priced app would be off in every community of the later rows
        await s.call("DELETE", "/v1/admin/apps/warmup/price", None, (204,), headers=OPERATOR_HEADERS)

    return {"app": "warmup", "cleanup": free_again}


async def _events(s: Seeder, seeded: Seeded, role: str) -> dict:
    event = {"id": uuid.uuid4().hex, "type": "post_view", "at": at(), "dwellMs": 4000}
    event |= {"communityId": seeded.ids["community_id"], "postId": seeded.ids["post_id"]}
    return {"body": {"events": [event]}}


async def _reward_pool_body(s: Seeder, seeded: Seeded, role: str) -> dict:
    today = datetime.now(UTC).date()
    body = {"amountFen": 10000, "start": str(today - timedelta(days=7)), "end": str(today)}
    return {"body": body | {"communityIds": [seeded.ids["community_id"]]}}


async def _own_reward(s: Seeder, seeded: Seeded, role: str) -> dict:
    """An owed reward of the author's from a committed pool, with no transfer (its transfer was returned)."""
    pool_id = await s.pool.fetchval(
        "INSERT INTO reward_pools (amount_fen, window_from, window_to, status, created_by) "
        "VALUES (50, current_date - 9, current_date - 2, 'committed', 'operator') RETURNING id"
    )
    reward_id = await s.pool.fetchval(
        "INSERT INTO reward_allocations (pool_id, community_id, user_id, amount_fen, basis) "
        "VALUES ($1, $2, $3, 50, 1) RETURNING id",
        pool_id,
        int(seeded.ids["community_id"]),
        int(seeded.users["author"].id),
    )
    return {"reward_id": str(reward_id)}


def _made(make: str, key: str):
    """A target that makes a fresh row with a Seeder helper (as the seeded roles do) and names it ``key``."""

    async def target(s: Seeder, seeded: Seeded, role: str) -> dict:
        u, ids = seeded.users, seeded.ids
        made = {
            "post": lambda: s.post(u["author"], ids["community_id"]),
            "comment": lambda: s.comment(u["author"], ids["post_id"]),
            "invite": lambda: s.invite(u["author"], ids["community_id"]),
            "rule": lambda: s.robot_rule(u["admin"], ids["community_id"]),
            "topic": lambda: s.topic(u["admin"], ids["community_id"]),
            "activity": lambda: s.activity(u["admin"], ids["community_id"]),
            "meetup": lambda: s.meetup(u["admin"], ids["community_id"]),
            "collection": lambda: s.collection(u["author"], ids["community_id"], [u["member"], u["admin"], u["owner"]]),
            "pool": lambda: s.reward_pool(ids["community_id"]),
        }
        return {key: await made[make]()}

    return target


async def _share_code(s: Seeder, seeded: Seeded, role: str) -> dict:
    share = {"target": "group"}
    path = f"/v1/posts/{seeded.ids['post_id']}/share"
    return {"code": (await s.call("POST", path, seeded.users["author"], json=share))["code"]}


async def _newcomers_post(s: Seeder, seeded: Seeded, role: str) -> dict:
    """A post by a member who holds none of the roles: every role may report it."""
    newcomer, cid = await _new_user(s), seeded.ids["community_id"]
    await s.join(newcomer, cid)
    return {"post_id": await s.post(newcomer, cid)}


async def _case(s: Seeder, seeded: Seeded, author: str) -> dict:
    """A reported post of ``author``: a case of the community's queue, or of the operator's for the staff's."""
    u, cid = seeded.users, seeded.ids["community_id"]
    post_id = await s.post(u[author], cid)
    report = {"targetKind": "post", "targetId": post_id, "reason": "spam"}
    await s.call("POST", "/v1/reports", u["member" if author != "member" else "author"], json=report)
    if author in ("admin", "owner"):
        cases = await s.call("GET", "/v1/admin/moderation", None, headers=OPERATOR_HEADERS)
    else:
        cases = await s.call("GET", f"/v1/communities/{cid}/moderation", u["admin"])
    return {"case_id": next(case["id"] for case in cases["items"] if case["targetId"] == post_id)}


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 200)).save(out, "JPEG")
    return out.getvalue()


async def _photo(s: Seeder, seeded: Seeded, role: str) -> dict:
    return {"files": {"file": ("tmp_1.jpg", _jpeg(), "image/jpeg")}}


async def _own_media(s: Seeder, seeded: Seeded, role: str) -> dict:
    files = (await _photo(s, seeded, role))["files"]
    return {"media_id": (await s.call("POST", "/v1/media", seeded.users["author"], files=files))["id"]}


async def _media_file(s: Seeder, seeded: Seeded, role: str) -> dict:
    media_id = (await _own_media(s, seeded, role))["media_id"]
    url = urlsplit((await s.call("GET", f"/v1/media/{media_id}", seeded.users["author"]))["url"])
    return {"name": url.path.rsplit("/", 1)[1], "query": dict(parse_qsl(url.query))}


async def _body(body: dict) -> dict:
    return {"body": body}


TARGETS = {
    "login_code": lambda s, seeded, role: _login_code(s),
    "refresh_token": lambda s, seeded, role: _refresh_token(s),
    "phone_code": lambda s, seeded, role: _phone_code(s, seeded, role),
    "events": _events,
    "fresh_community": _fresh_community,
    "new_user": lambda s, seeded, role: _new_user_id(s),
    "fresh_brand": _fresh_brand,
    "branded_community": _branded_community,
    "brand_points": _brand_points,
    "fresh_series": _fresh_series,
    "brand_pool_body": _brand_pool_body,
    "brand_pool": _brand_pool,
    "fresh_invite": _made("invite", "code"),
    "share_code": _share_code,
    "fresh_request": _fresh_request,
    "fresh_entry_order": _fresh_entry_order,
    "own_entry_order": _own_entry_order,
    "unused_app": _unused_app,
    "fresh_post": _made("post", "post_id"),
    "fresh_comment": _made("comment", "comment_id"),
    "fresh_rule": _made("rule", "rule_id"),
    "fresh_topic": _made("topic", "topic_id"),
    "fresh_activity": _made("activity", "activity_id"),
    "fresh_meetup": _made("meetup", "meetup_id"),
    "fresh_collection": _made("collection", "collection_id"),
    "fresh_pool": _made("pool", "pool_id"),
    "newcomers_post": _newcomers_post,
    "fresh_case": lambda s, seeded, role: _case(s, seeded, "author"),
    "fresh_staff_case": lambda s, seeded, role: _case(s, seeded, "owner"),
    "reward_pool_body": _reward_pool_body,
    "own_reward": _own_reward,
    "fresh_poll": _fresh_poll,
    "proposal_name": lambda s, seeded, role: _name(),
    "voting_poll": lambda s, seeded, role: _ids(
        poll_id=seeded.extra["voting_poll_id"], proposal_id=seeded.extra["voting_proposal_id"]
    ),
    "voted": _voted,
    "closed_poll": lambda s, seeded, role: _ids(poll_id=seeded.extra["closed_poll_id"]),
    "fresh_trial": _fresh_trial,
    "trial_with_feedback": _trial_with_feedback,
    "poll_body": lambda s, seeded, role: _body(
        {"title": "新品命名", "proposalsCloseAt": at(hours=1), "votingCloseAt": at(hours=2)}
    ),
    "activity_body": lambda s, seeded, role: _body(
        {"title": "晚间拉伸", "prompt": "拉伸十分钟", "recurrence": "daily", **local_window()}
    ),
    "meetup_body": lambda s, seeded, role: _body(
        {"title": "周日夜跑", "mode": "offline", "place": "奥森北门", "startsAt": at(days=4), "capacity": 10}
    ),
    "signed_up": _signed_up,
    "photo": _photo,
    "own_media": _own_media,
    "media_file": _media_file,
    "venue_code": _venue_code,
}


async def _ids(**ids: str) -> dict:
    return ids


async def _name() -> dict:
    return {"name": f"晨光{uuid.uuid4().hex[:6]}"}


async def _login_code(s: Seeder) -> dict:
    return {"login_code": await s.stack.sandbox.wx_login(f"matrix-{uuid.uuid4().hex[:10]}")}


async def _refresh_token(s: Seeder) -> dict:
    return {"refresh_token": (await _new_user(s)).tokens["refreshToken"]}


async def _phone_code(s: Seeder, seeded: Seeded, role: str) -> dict:
    name = seeded.users[role if role in seeded.users else "stranger"].name
    return {"phone_code": await s.stack.sandbox.phone_code(name, "13800138000")}


def fill(template: Any, values: dict) -> Any:
    if isinstance(template, str):
        return template.format_map(values)
    if isinstance(template, list):
        return [fill(item, values) for item in template]
    if isinstance(template, dict):
        return {key: fill(value, values) for key, value in template.items()}
    return template


def refused(response: httpx.Response) -> bool:
    if response.status_code not in (401, 403, 404):
        return False
    return response.json().get("code") in REFUSALS


async def check_row(s: Seeder, seeded: Seeded, method: str, path: str, row: Row) -> list[str]:
    """Every role, the refused ones first (the admitted calls after them find the rows as seeded); what
    went wrong."""
    wrong = []
    for role in sorted(ROLES, key=lambda r: r in row.allowed):
        target = await TARGETS[row.target](s, seeded, role) if row.target else {}
        values = {**seeded.ids, **target}
        headers = OPERATOR_HEADERS if role == "operator" else seeded.users[role].headers if role in seeded.users else {}
        body = target.get("body", fill(row.body, values))
        upload = {"files": target["files"]} if "files" in target else {"json": body}
        query = target.get("query", row.query)
        response = await s.api.request(method, fill(path, values), params=query, headers=headers, **upload)
        if "cleanup" in target:
            await target["cleanup"]()
        if row.allowed is NOBODY:
            ok = 400 <= response.status_code < 500
        elif role in row.allowed:
            ok = response.is_success or response.status_code in row.accept
        else:
            ok = refused(response)
        if not ok:
            verdict = "should be admitted" if role in row.allowed else "should be refused"
            wrong.append(f"{role} {verdict}: {response.status_code} {response.text[:300]}")
    return wrong


@pytest.fixture(scope="module")
def seeder(live_stack: LiveStack) -> Iterator[Seeder]:
    with seeder_in(live_stack) as seeder:
        yield seeder


def test_every_operation_has_a_row_in_the_role_matrix():
    documented = {(m, p) for m, p, _ in OPERATIONS}
    assert documented - ROLE_MATRIX.keys() == set(), "add a row to ROLE_MATRIX for each new route"
    assert ROLE_MATRIX.keys() - documented == set(), "ROLE_MATRIX names routes the spec does not have"


@pytest.mark.parametrize(("method", "path"), sorted(ROLE_MATRIX), ids=[f"{m} {p}" for m, p in sorted(ROLE_MATRIX)])
def test_each_role_is_admitted_or_refused_as_the_matrix_says(live_stack, seeded, seeder, method, path):
    row = ROLE_MATRIX[(method, path)]
    wrong = live_stack.run(check_row(seeder, seeded, method, path, row))
    assert not wrong, "\n".join(wrong)
