"""A share's referral in a paid community: the code travels with the order and the sharer is credited only
once the payment admitted the payer (the Pay sandbox over real HTTP)."""

from __future__ import annotations

from service.auth.deletion import erase_due
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


async def test_an_invite_credits_no_more_referrals_than_its_uses(world):  # noqa: F811
    # Two payers ordered through a one-use link while it had its use left; both are admitted (they paid), but the
    # link credits its creator once, as a free community's would (the second payer got `invite_used_up`).
    owner_id, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    invite = (await world.api.post(f"/v1/communities/{cid}/invites", json={"maxUses": 1}, headers=owner)).json()
    payers = [await world.user() for _ in range(2)]
    orders = [(await join(world, auth, cid, inviteCode=invite["code"]))["order"] for _, auth in payers]
    for order in orders:
        await world.pay_order(order)
    active = "SELECT count(*) FROM memberships WHERE community_id = $1 AND status = 'active'"
    assert await world.pool.fetchval(active, int(cid)) == 3
    assert await world.pool.fetchval("SELECT uses FROM invites WHERE code = $1", invite["code"]) == 1
    credited = "SELECT referred_id FROM referrals WHERE community_id = $1 AND referrer_id = $2"
    assert [r["referred_id"] for r in await world.pool.fetch(credited, int(cid), owner_id)] == [payers[0][0]]


async def test_a_link_revoked_or_expired_before_the_payment_credits_nobody(world):  # noqa: F811
    # Found in review: a link revoked (or expired) after a payer ordered through it still credited its creator when
    # the payment arrived, where a free join through that link is refused and credits nobody. The payer is admitted
    # (they paid, and entry is by payment), but the link credits only while it is live when the payment admits them.
    owner_id, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    links = [(await world.api.post(f"/v1/communities/{cid}/invites", json={}, headers=owner)).json() for _ in range(3)]
    revoked, expired, live = (link["code"] for link in links)
    payers = [await world.user() for _ in range(3)]
    orders = [
        (await join(world, auth, cid, inviteCode=code))["order"]
        for (_, auth), code in zip(payers, (revoked, expired, live), strict=True)
    ]
    gone = await world.api.delete(f"/v1/communities/{cid}/invites/{revoked}", headers=owner)
    assert gone.status_code == 204, gone.text
    # Its hours ran out between the order and the payment.
    await world.pool.execute("UPDATE invites SET expires_at = now() - interval '1 second' WHERE code = $1", expired)
    for order in orders:
        await world.pay_order(order)

    active = "SELECT count(*) FROM memberships WHERE community_id = $1 AND status = 'active'"
    assert await world.pool.fetchval(active, int(cid)) == 4  # the owner and every payer
    credited = "SELECT referred_id FROM referrals WHERE community_id = $1 AND referrer_id = $2"
    assert [r["referred_id"] for r in await world.pool.fetch(credited, int(cid), owner_id)] == [payers[2][0]]
    uses = {r["code"]: r["uses"] for r in await world.pool.fetch("SELECT code, uses FROM invites")}
    assert (uses[revoked], uses[expired], uses[live]) == (0, 0, 1)
    ranked = (await world.api.get(f"/v1/communities/{cid}/referrals", headers=owner)).json()
    assert ranked["mine"]["referrals"] == 1, ranked


async def test_a_link_whose_creator_no_longer_stands_counts_no_use_at_the_payment(world):  # noqa: F811
    # Found in review: a link dies with its creator's standing (a free join through it is refused, USE_INVITE), and
    # the payment credited nobody through it (logic.admit), but it still counted a use of it. Leaving or a removal
    # revokes the creator's links; an erased account's are only read dead (INVITER_STANDS), and their uses went up.
    owner_id, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    creator_id, creator = await world.user()
    await world.pay_order((await join(world, creator, cid))["order"])
    link = (await world.api.post(f"/v1/communities/{cid}/invites", json={"maxUses": 5}, headers=creator)).json()
    payer_id, payer = await world.user()
    order = (await join(world, payer, cid, inviteCode=link["code"]))["order"]
    # The creator deletes their account and the cooling-off is over: the erasure runs.
    asked = await world.api.delete("/v1/me", headers=creator)
    assert asked.status_code == 202, asked.text
    await world.pool.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", creator_id)
    assert await erase_due(world.pool) == 1
    await world.pay_order(order)

    standing = "SELECT status FROM memberships WHERE community_id = $1 AND user_id = $2"
    assert await world.pool.fetchval(standing, int(cid), payer_id) == "active"  # they paid: admitted all the same
    assert await world.pool.fetchval("SELECT count(*) FROM referrals WHERE community_id = $1", int(cid)) == 0
    assert await world.pool.fetchval("SELECT uses FROM invites WHERE code = $1", link["code"]) == 0
    listed = (await world.api.get(f"/v1/communities/{cid}/invites", headers=owner)).json()["items"]
    assert [(i["code"], i["revoked"], i["uses"]) for i in listed] == [(link["code"], True, 0)]
