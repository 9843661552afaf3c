"""A share's referral in a paid community: the code travels with the order and the sharer is credited only
once the payment admitted the payer (the Pay sandbox over real HTTP)."""

from __future__ import annotations

from tests.checkout.conftest import sandbox, sandbox_keys, sandbox_url, wechat_url, world  # noqa: F401  (the Pay world)
from tests.checkout.test_paid_entry import join, paid_community


async def test_the_sharer_is_credited_when_the_payment_admits_the_payer(world):  # noqa: F811
    owner_id, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    # The owner's post and share, as POST /v1/posts/{id}/share leaves them (tests/growth/test_sharing.py).
    post_id = await world.pool.fetchval(
        "INSERT INTO posts (community_id, author_id, text) VALUES ($1, $2, '付费社群的精彩内容') RETURNING id",
        int(cid),
        owner_id,
    )
    await world.pool.execute(
        "INSERT INTO post_shares (post_id, community_id, user_id, target, code) VALUES ($1, $2, $3, 'chat', $4)",
        post_id,
        int(cid),
        owner_id,
        "PaidShare0001",
    )
    preview = (await world.api.get("/v1/shares/PaidShare0001")).json()
    assert preview["join"]["outcome"] == "pay" and preview["community"]["priceFen"] == 990

    payer_id, payer = await world.user()
    order = (await join(world, payer, cid, shareCode="PaidShare0001"))["order"]
    credited = "SELECT referrer_id FROM referrals WHERE community_id = $1 AND referred_id = $2"
    assert await world.pool.fetchval(credited, int(cid), payer_id) is None  # ordered, not admitted: nothing yet
    await world.pay_order(order)
    assert await world.pool.fetchval(credited, int(cid), payer_id) == owner_id
