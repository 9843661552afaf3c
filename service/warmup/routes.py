"""HTTP routes of the warm-up robot: its settings and the admins' topic list."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.datastructures import State
from litestar.params import JSONBody

from service.core.deps import Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.ids import PathId
from service.core.paging import Cursor, Limit
from service.openapi import answer
from service.warmup import examples as ex
from service.warmup import logic
from service.warmup import models as m
from service.warmup.problems import PROBLEMS

TAG = "warmup"
ADMIN = ("unauthorized", "token_expired", "not_found", "not_member", "forbidden", "app_disabled")
CONTENT = ("content_rejected", "wechat_session_stale", "wechat_unavailable", "wechat_error")


class WarmupController(Controller):
    path = "/communities/{community_id:str}/warmup"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="getWarmupSettings",
        summary="The warm-up robot's settings, its last post and the next topic (admins)",
        description=(
            "`nextTopic` is what the robot posts when the community has been quiet for `quietMinutes` within its "
            "active hours; `lastPostId` is its latest warm-up post. `app_disabled` while the warm-up app is off."
        ),
        responses={**PROBLEMS.responses(*ADMIN), **answer(200, ex.SETTINGS, "on, 3 quiet hours", "The robot settings")},
    )
    async def read(self, community_id: PathId, user: CurrentUser, db: Db) -> m.WarmupSettings:
        return await logic.get_settings(db, community_id, user.id)

    @put(
        "",
        operation_id="updateWarmupSettings",
        summary="Turn the robot on or off, set the quiet time and the active hours (admins)",
        description="Active hours are local time in the community's time zone; equal times mean all day.",
        responses={
            **PROBLEMS.responses(*ADMIN),
            **answer(200, ex.SETTINGS, "updated", "The robot settings after the change"),
        },
    )
    async def update(
        self, community_id: PathId, data: JSONBody[m.WarmupSettingsUpdate], user: CurrentUser, db: Db
    ) -> m.WarmupSettings:
        return await logic.update_settings(db, community_id, user.id, data)

    @get(
        "/topics",
        operation_id="listWarmupTopics",
        summary="The topics the robot posts in turn (admins)",
        description=(
            "In the robot's order (position, then id), starting over after the last; `usedCount` says how often each "
            "was posted. Deleted topics are not listed."
        ),
        responses={
            **PROBLEMS.responses(*ADMIN),
            **answer(200, ex.TOPICS, "one topic", "Topics in the order the robot takes them"),
        },
    )
    async def topics(
        self, community_id: PathId, user: CurrentUser, db: Db, limit: Limit = 50, cursor: Cursor = None
    ) -> m.WarmupTopicPage:
        return await logic.list_topics(db, community_id, user.id, limit, cursor)

    @post(
        "/topics",
        operation_id="addWarmupTopic",
        summary="Add a topic (admins); content-checked, since the robot will post it",
        description=(
            "The text must pass WeChat's content check outright (text held for review is refused too), since the robot "
            "posts it. Without `position` the topic goes after the last one."
        ),
        status_code=201,
        responses={**PROBLEMS.responses(*ADMIN, *CONTENT), **answer(201, ex.TOPIC, "added", "The topic")},
    )
    async def add_topic(
        self, community_id: PathId, data: JSONBody[m.WarmupTopicCreate], caller: CurrentUser, state: State
    ) -> m.WarmupTopic:
        return await logic.add_topic(state.pool, state.wechat, community_id, caller.id, data)

    @put(
        "/topics/{topic_id:str}",
        operation_id="updateWarmupTopic",
        summary="Reword or move a topic (admins)",
        description=(
            "Only the fields sent change; a new text is content-checked like a new topic, a new `position` moves it in "
            "the robot's order."
        ),
        responses={
            **PROBLEMS.responses(*ADMIN, *CONTENT),
            **answer(200, ex.TOPIC, "moved", "The topic after the change"),
        },
    )
    async def update_topic(
        self,
        community_id: PathId,
        topic_id: PathId,
        data: JSONBody[m.WarmupTopicUpdate],
        caller: CurrentUser,
        state: State,
    ) -> m.WarmupTopic:
        return await logic.update_topic(state.pool, state.wechat, community_id, topic_id, caller.id, data)

    @delete(
        "/topics/{topic_id:str}",
        operation_id="deleteWarmupTopic",
        summary="Remove a topic (admins)",
        description=(
            "The topic leaves the rotation; posts the robot made with it stay. Deleting it again answers `not_found`."
        ),
        status_code=204,
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def delete_topic(self, community_id: PathId, topic_id: PathId, user: CurrentUser, db: Db) -> None:
        await logic.delete_topic(db, community_id, topic_id, user.id)


CONTROLLERS = [WarmupController]
