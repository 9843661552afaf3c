"""What the feed domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.feed.jobs import JOBS
from service.feed.lane import feed_lane
from service.feed.mentions import JOBS as MENTION_JOBS
from service.feed.moderation import apply_moderation
from service.feed.notice_routes import CONTROLLERS as NOTICE_CONTROLLERS
from service.feed.privacy import PRIVACY
from service.feed.problems import PROBLEMS
from service.feed.reach_routes import CONTROLLERS as REACH_CONTROLLERS
from service.feed.routes import CONTROLLERS
from service.feed.visibility import images_decided

DOMAIN = Domain(
    "feed",
    problems=PROBLEMS,
    controllers=[*CONTROLLERS, *NOTICE_CONTROLLERS, *REACH_CONTROLLERS],
    tags=[
        Tag(
            name="feed",
            description="Community feeds (latest, hot, essence, my feed), posts, comments with replies, likes, shares "
            "and the WeChat groups they reached (docs/growth.md); texts pass WeChat's content check; newcomer "
            "limits (docs/feed.md); search, a member's posts and pinned notices (docs/search.md).",
        )
    ],
    jobs=[JOBS, MENTION_JOBS],
    on_media_decided=[images_decided],
    on_moderated=[apply_moderation],
    privacy=PRIVACY,
    lanes=[feed_lane],
)
