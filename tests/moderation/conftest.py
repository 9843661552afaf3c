"""The moderation tests' world: the feed's (members logged in through the sandbox, a community, posts), with
the operator's key and a report threshold of two."""

from __future__ import annotations

import pytest

from service.settings import Settings
from tests.feed import conftest as feed
from tests.feed.conftest import World
from tests.stack import OPERATOR_KEY
from tests.support import make_settings
from tests.wechat_support import Sandbox

# The feed's fixtures, shared.
db, jobs, world = feed.db, feed.jobs, feed.world

OPERATOR = {"x-operator-key": OPERATOR_KEY}
TEMPLATE = "sandbox-moderation-result"


@pytest.fixture
def settings(database_url: str, sandbox: Sandbox) -> Settings:
    return make_settings(
        database_url,
        wechat_api_base=sandbox.url,
        newcomer_hours=0,
        operator_api_key=OPERATOR_KEY,
        report_hide_threshold=2,
    )


async def report(world: World, who, kind: str, target_id: str, expect: int = 201, **body) -> dict:
    payload = {"targetKind": kind, "targetId": target_id, "reason": "spam", **body}
    response = await world.client.post("/v1/reports", json=payload, headers=who.headers)
    assert response.status_code == expect, response.text
    return response.json()


async def queue(world: World, who, cid: str, expect: int = 200, **params) -> dict:
    response = await world.client.get(f"/v1/communities/{cid}/moderation", params=params, headers=who.headers)
    assert response.status_code == expect, response.text
    return response.json()


async def decide(world: World, who, case_id: str, expect: int = 200, **body) -> dict:
    response = await world.client.post(f"/v1/moderation/cases/{case_id}/decision", json=body, headers=who.headers)
    assert response.status_code == expect, response.text
    return response.json()
