"""What the payer reads in WeChat's refund message: WeChat Pay shows a refund's `reason` (80 characters at most)
to the payer ("会在下发给用户的退款消息中体现退款原因"), and members read Chinese.

A refund's stored reason stays machine-readable (`<code>: <detail>`, shown on the order's `refunds[].reason`);
`refund_notice` turns it into the Chinese sentence WeChat receives. Every code a refund reason starts with, the
`Refuse` codes of every purpose included, has a notice here (tests/test_refund_notices.py walks the
source for them), so no English reaches a payer.
"""

from __future__ import annotations

import re

WECHAT_REASON_MAX = 80  # WeChat Pay v3 refund `reason`: string[1, 80]

# code -> what the payer reads (no final 。: a detail may follow after "：").
NOTICES: dict[str, str] = {
    # Refused payments (a purpose's `Refuse`, or checkout's own): refunded in full by the system.
    "order_closed": "订单已关闭后才收到付款，款项原路退回",
    "community_closed": "社群已不再接受付费入群，入群费用原路退回",
    "community_full": "社群名额已满，入群费用原路退回",
    "member_removed": "你已被移出该社群，需管理员同意才能重新加入，入群费用原路退回",
    "already_member": "你已是该社群成员，无需再付入群费用，款项原路退回",
    "already_in_series": "你已加入本系列的另一个姊妹群，入群费用原路退回",
    "collection_closed": "该收款已结束，不再收款，款项原路退回",
    "collection_cancelled": "收款已取消，已付款项原路退回",
    "initiator_left": "收款发起人已不在社群，已付款项原路退回",
    "not_participant": "你不在本次收款名单中，款项原路退回",
    "share_already_paid": "你已付过这笔收款，重复付款原路退回",
    "meetup_cancelled": "活动已取消，报名费用原路退回",
    "meetup_full": "付款前名额已让给候补成员，报名费用原路退回",
    "signup_not_payable": "该报名已失效，报名费用原路退回",
    "signup_unknown": "报名不存在，报名费用原路退回",
    "payer_mismatch": "该报名不属于付款人，款项原路退回",
    "app_unknown": "社群应用不存在，费用原路退回",
    "payer_not_owner": "你已不是该社群群主，社群应用费用原路退回",
    "app_already_bought": "该社群已永久拥有此应用，重复付款原路退回",
    "pool_not_found": "奖励池不存在，款项原路退回",
    "pool_cancelled": "奖励池已取消，款项原路退回",
    "pool_already_paid": "奖励池已由另一笔付款支付，重复付款原路退回",
    "not_payable": "该订单无需付款，款项原路退回",
    # Refunds asked for or made by people and domains.
    "payer_request": "已按你的申请退款，款项原路退回",
    "member_left": "你已退出社群，活动报名费用原路退回",
    "signup_cancelled": "你已取消活动报名，报名费用原路退回",
}

# A refund whose reason says nothing a member can read (an admin's English words, an unknown code).
GENERIC_NOTICE = "订单已退款，款项原路退回"

_CODE = re.compile(r"^([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\s*(?::\s*(.*))?$", re.DOTALL)
_CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def has_chinese(text: str) -> bool:
    return _CHINESE.search(text) is not None


def refund_notice(reason: str) -> str:
    """The Chinese sentence WeChat shows the payer for a refund with this stored reason.

    A leading known code gives its notice, followed by `：<detail>` when the detail is a person's own Chinese
    words (an admin's cancel reason; our own details are English and stay ours) that the notice does not already
    say. Without a known code: a reason holding Chinese is a person's own words (a payer's or an admin's) and
    goes as typed; anything else gets the generic notice, never English."""
    reason = reason.strip()
    matched = _CODE.match(reason)
    if matched is not None and matched.group(1) in NOTICES:
        notice = NOTICES[matched.group(1)]
        detail = (matched.group(2) or "").strip()
        if detail and has_chinese(detail) and detail not in notice:
            notice = f"{notice}：{detail}"
        return _trim(notice)
    if has_chinese(reason):
        return _trim(reason)
    return GENERIC_NOTICE


def _trim(text: str) -> str:
    return text if len(text) <= WECHAT_REASON_MAX else text[: WECHAT_REASON_MAX - 1] + "…"
