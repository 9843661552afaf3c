"""HTTP routes of members' interests: thin handlers over logic.py."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, put
from litestar.params import JSONBody, QueryParameter

from service.core.deps import Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.ids import PathId
from service.interests import examples as ex
from service.interests import logic
from service.interests import models as m
from service.interests.problems import PROBLEMS
from service.openapi import answer

TAG = "interests"
AUTH = ("unauthorized", "token_expired")
MEMBER = (*AUTH, "not_found", "not_member")
METHOD = (
    "Tags are keywords of what members wrote (posts, check-ins, comments, poll proposals), extracted by a job within "
    "about a minute with the jieba segmenter (TF-IDF, nouns and verbs, stop words left out) and weighed by age "
    "(half-life 30 days); docs/interests.md says how and where it errs."
)
TagLimit = Annotated[int, QueryParameter(ge=1, le=50, description="How many tags (1-50)")]


class CommunityInterestsController(Controller):
    path = "/communities/{community_id:str}/interests"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="getCommunityInterests",
        summary="The community's top interests, by how many active members share each (admins)",
        description=METHOD + " Recomputed whenever members of the community wrote something new.",
        responses={
            **PROBLEMS.responses(*MEMBER, "forbidden"),
            **answer(200, ex.COMMUNITY, "running and coffee", "The community's top tags"),
        },
    )
    async def community(
        self, community_id: PathId, user: CurrentUser, db: Db, limit: TagLimit = 20
    ) -> m.CommunityInterests:
        return await logic.community_interests(db, community_id, user.id, limit)

    @get(
        "/mine",
        operation_id="getMyInterests",
        summary="My interests in the community, strongest first (members)",
        description=METHOD + " Empty until I wrote something with a keyword; `introductions` is my setting.",
        responses={**PROBLEMS.responses(*MEMBER), **answer(200, ex.MINE, "running and coffee", "My tags")},
    )
    async def mine(self, community_id: PathId, user: CurrentUser, db: Db) -> m.MyInterests:
        return await logic.my_interests(db, community_id, user.id)


class InterestSettingsController(Controller):
    path = "/me/interest-settings"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="getInterestSettings",
        summary="Whether the warm-up robot may introduce me and suggest topics from my interests",
        responses={**PROBLEMS.responses(*AUTH), **answer(200, ex.SETTINGS, "opted out", "My interest settings")},
    )
    async def read(self, user: CurrentUser, db: Db) -> m.InterestSettings:
        return await logic.settings(db, user.id)

    @put(
        "",
        operation_id="updateInterestSettings",
        summary="Opt out of (or back into) the warm-up robot's introductions and topic suggestions, in every community",
        description=(
            "`introductions: false`: the robot neither introduces me to a member who shares an interest nor suggests "
            "me a topic, in any community, from the next run on (docs/interests.md). My tags are still kept for my "
            "for-you feed."
        ),
        responses={**PROBLEMS.responses(*AUTH), **answer(200, ex.SETTINGS, "opted out", "My interest settings")},
    )
    async def update(self, data: JSONBody[m.InterestSettingsUpdate], user: CurrentUser, db: Db) -> m.InterestSettings:
        return await logic.update_settings(db, user.id, data)


CONTROLLERS = [CommunityInterestsController, InterestSettingsController]
