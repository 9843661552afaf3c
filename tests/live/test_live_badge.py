"""The unread count a live `notification` event carries is the badge after the item's commit: two items that commit at
once for the same member end on the right count, not one behind (each writer alone sees only its own item)."""

from __future__ import annotations

from service.core import inbox
from tests.live.conftest import collect, next_event, quiet, socket_of


async def test_two_notifications_committing_at_once_end_on_the_right_badge(world, jobs):
    alice = await world.member("alice")
    async with jobs.pool.acquire() as db, jobs.pool.acquire() as other:
        async with socket_of(world, alice) as socket:
            await next_event(socket, "ready")
            first, second = db.transaction(), other.transaction()
            await first.start()
            await second.start()
            # Both count the badge before either commits: neither sees the other's item.
            for conn, trial in ((db, 1), (other, 2)):
                await inbox.deliver(conn, inbox.Item(alice.id, "trial_shipped", "trial", trial))
            await first.commit()
            await second.commit()
            seen = [await next_event(socket, "notification")]
            seen += await quiet(socket, "notification")
            assert len(seen) == 2
            response = await world.client.get("/v1/me/notifications/unread-count", headers=alice.headers)
            assert response.json()["unreadCount"] == 2
            assert seen[-1]["unreadCount"] == 2  # the badge the client shows last
            assert [event["unreadCount"] for event in seen] == sorted(event["unreadCount"] for event in seen)


async def test_a_notification_still_carries_the_count_after_items_were_read(world):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    post = await world.post(alice, cid, "周六晨跑")
    async with socket_of(world, alice) as socket:
        await next_event(socket, "ready")
        await world.comment(bob, post["id"], "我也去")
        notice = (await collect(socket, "notification"))["notification"]
        assert notice["unreadCount"] == 1
        read = await world.client.post(
            "/v1/me/notifications/read", json={"upToId": notice["notificationId"]}, headers=alice.headers
        )
        assert read.json()["unreadCount"] == 0
        await world.comment(bob, post["id"], "几点？")
        assert (await next_event(socket, "notification"))["unreadCount"] == 1
