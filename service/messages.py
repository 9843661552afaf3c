"""What a member reads when something goes wrong: one table of problem codes -> (zh-CN, English) messages.

Codes are for programs; `userMessage` is for people, in Chinese unless the request prefers English
(`Accept-Language`). A test walks every declared code against this table. WeChat's content-check labels get
a reason of their own, so a refused text says why.
"""

from __future__ import annotations

# code -> (zh-CN, en)
USER_MESSAGES: dict[str, tuple[str, str]] = {
    # The HTTP layer
    "bad_request": ("请求格式不正确，请稍后重试。", "The request could not be read. Please try again."),
    "validation_failed": ("填写的内容有误，请检查标出的项目。", "Some fields are not valid: please check them."),
    "json_too_deep": ("提交的内容层级过深，无法处理。", "The request nests too deeply to be read."),
    "unauthorized": ("登录已失效，请重新登录。", "Your session has ended. Please sign in again."),
    "token_expired": ("登录已过期，正在为你刷新。", "Your session expired. Refreshing it."),
    "forbidden": ("你没有权限进行此操作。", "You are not allowed to do this."),
    "not_found": ("内容不存在或已被删除。", "This does not exist or has been removed."),
    "method_not_allowed": ("暂不支持此操作。", "This action is not supported."),
    "conflict": ("操作与当前状态冲突，请刷新后重试。", "This conflicts with the current state. Refresh and try again."),
    "payload_too_large": ("内容太大了，请精简后再试。", "This is too large. Please make it smaller."),
    "unsupported_media_type": ("请求格式不受支持。", "This format is not supported."),
    "rate_limited": ("操作太频繁了，请稍后再试。", "Too many attempts. Please wait a moment."),
    "internal_error": ("服务开小差了，请稍后再试。", "Something went wrong on our side. Please try again later."),
    "upgrade_required": ("请使用 wx.connectSocket 连接实时消息。", "Open this with wx.connectSocket (a WebSocket)."),
    "not_ready": ("服务暂时不可用，请稍后再试。", "The service is briefly unavailable. Please try again soon."),
    # WeChat
    "invalid_code": ("微信登录凭证已失效，请重新登录。", "Your WeChat sign-in expired. Please sign in again."),
    "code_used": ("微信登录凭证已使用，请重新登录。", "This WeChat sign-in was already used. Please sign in again."),
    "phone_code_invalid": (
        "手机号授权已失效，请重新点击按钮获取手机号。",
        "The phone number permission expired. Please tap the button again.",
    ),
    "wechat_unavailable": ("微信服务繁忙，请稍后再试。", "WeChat is busy right now. Please try again soon."),
    "wechat_error": ("微信暂时无法完成此操作，请稍后再试。", "WeChat could not complete this. Please try later."),
    "invalid_open_data": (
        "登录信息已更新，请重新登录后再试。",
        "Your sign-in changed. Please sign in again and retry.",
    ),
    "open_data_signature_mismatch": (
        "登录信息校验失败，请重新登录。",
        "Your sign-in could not be verified. Please sign in again.",
    ),
    "content_rejected": (
        "内容未通过安全检查，请修改后再发布。",
        "This content did not pass the safety check. Please edit it.",
    ),
    "wechat_session_stale": (
        "你有一段时间没打开小程序了，请重新登录。",
        "You have been away a while. Please sign in again.",
    ),
    # The core: membership, apps, idempotency, money
    "not_member": ("你还不是该社群的成员。", "You are not a member of this community."),
    "member_muted": ("你已被管理员禁言，暂时不能发言。", "An admin has muted you here for a while."),
    "blocked": (
        "对方已将你屏蔽，无法回复、提及对方或向对方收款。",
        "This member blocked you: you cannot reply to, mention or collect from them.",
    ),
    "introduction_required": ("请先发布自我介绍，再参与讨论。", "Please introduce yourself before posting."),
    "app_disabled": ("该功能在本社群未开启或已到期。", "This feature is off or expired in this community."),
    "operator_only": ("仅平台运营方可以进行此操作。", "Only the platform operator can do this."),
    "media_rejected": ("有图片未通过安全检查，请删除后再发布。", "An image did not pass the safety check. Remove it."),
    "idempotency_key_reused": (
        "请求重复，请刷新后重试。",
        "This request was already made differently. Refresh and retry.",
    ),
    "pay_signature_invalid": ("支付通知校验失败。", "The payment notice could not be verified."),
    "pay_serial_unknown": ("支付通知校验失败。", "The payment notice could not be verified."),
    "pay_notification_stale": ("支付通知已过期。", "The payment notice is too old."),
    "pay_notification_malformed": ("支付通知格式不正确。", "The payment notice could not be read."),
    "pay_notification_mismatch": ("支付通知与订单不符。", "The payment notice does not match the order."),
    "pay_notification_unknown": ("找不到对应的订单。", "No matching order was found."),
    "payment_unavailable": (
        "微信支付暂时不可用，请稍后再试。",
        "WeChat Pay is unavailable right now. Please try again soon.",
    ),
    "order_not_paid": ("订单尚未支付或已退款。", "This order is not paid or was already refunded."),
    "refund_exceeds_remaining": ("退款金额超过了订单剩余可退金额。", "The amount is more than what is left to refund."),
    "order_already_paid": ("订单已支付。", "This order has already been paid."),
    "refund_window_closed": ("已超过可退款时间。", "The refund period has passed."),
    "refund_not_allowed": ("该订单不支持退款。", "This purchase cannot be refunded."),
    "order_paid_out": (
        "该款项已结算给群主，无法退款。",
        "This money was already paid out to the owner and cannot be refunded.",
    ),
    # Auth
    "invalid_refresh_token": ("登录已失效，请重新登录。", "Your session has ended. Please sign in again."),
    "refresh_token_reused": ("为了安全，请重新登录。", "For your security, please sign in again."),
    # Communities
    "community_full": ("社群人数已满。", "This community is full."),
    "already_member": ("你已经是该社群的成员了。", "You are already a member."),
    "community_in_brand": ("该社群已属于另一个品牌。", "The community belongs to another brand."),
    "community_in_series": ("该社群已属于一个系列。", "The community already belongs to a series."),
    "already_in_series": (
        "你已加入本系列的另一个姊妹群，同一系列只能加入一个群。",
        "You are already in a sister community.",
    ),
    "payment_required": ("该社群需付费加入。", "This community requires a paid entry."),
    "member_removed": (
        "你已被移出该社群，需管理员同意才能重新加入。",
        "You were removed; an admin must approve your return.",
    ),
    "already_introduced": ("你已经做过自我介绍了。", "You have already introduced yourself."),
    "request_not_pending": ("该申请已处理。", "This request was already handled."),
    "invite_not_found": ("邀请链接无效。", "This invite link is not valid."),
    "invite_expired": ("邀请链接已过期。", "This invite link has expired."),
    "invite_used_up": ("邀请链接的使用次数已满。", "This invite link has been used up."),
    "refund_own_order": (
        "不能为自己付款的订单退款，请由群主处理，或在退款期内自行申请退款。",
        "You cannot refund your own order. Ask the owner, or request a refund yourself within the refund period.",
    ),
    "owner_must_transfer": (
        "群主需先把社群转让给其他成员，才能退出或注销账号。",
        "Transfer ownership to another member before leaving or deleting your account.",
    ),
    "cap_below_member_count": ("人数上限不能低于当前成员数。", "The cap cannot be below the current member count."),
    "nothing_to_withdraw": ("暂无可提现的收入。", "There is nothing to withdraw yet."),
    "payout_too_large": (
        "单笔金额过大，无法自动结算，请联系平台。",
        "This payment is too large to pay out automatically.",
    ),
    # Feed and robots
    "edit_window_closed": ("已超过可编辑时间。", "This can no longer be edited."),
    "post_not_editable": (
        "该内容已被移除或正在等待管理员审核，暂时不能编辑。",
        "This post was removed or waits for an admin's review: it cannot be edited.",
    ),
    "search_query_blank": ("请输入要搜索的文字。", "Type the words to search for."),
    "pin_limit_reached": ("最多置顶 3 条帖子，请先取消一条。", "At most 3 posts can be pinned: unpin one first."),
    "post_not_pinnable": ("该帖子还未公开或已被移除，无法置顶。", "Only visible posts can be pinned."),
    "not_group_share_info": (
        "未能识别分享来自哪个群聊，请从群聊中的分享卡片重新打开。",
        "We could not tell which group chat this share came from. Open it again from the card in the group.",
    ),
    "too_many_rules": ("关键词规则已达上限，请先删除一条。", "Too many keyword rules: delete one first."),
    "invalid_signature": ("请求未通过微信签名校验。", "The request is not signed by WeChat."),
    # Collections
    "collection_closed": ("该收款已结束。", "This collection no longer takes payments."),
    "collection_settled": ("该收款已结算，无法取消。", "This collection is settled and cannot be cancelled."),
    "not_participant": ("你不在本次收款名单中。", "You are not part of this collection."),
    "initiator_left": (
        "发起人已不在本社群，这笔收款不再收款，已付的钱会在截止后原路退回。",
        "The initiator has left the community: this collection takes no payments, and what was paid is refunded.",
    ),
    "share_already_paid": ("你已支付过了。", "You have already paid your share."),
    # Interactions and rewards
    "batch_too_large": ("一次上报的事件太多了。", "Too many events in one batch."),
    "window_too_long": ("统计时间范围不正确（最长 366 天）。", "The date range is not valid (366 days at most)."),
    "nothing_to_allocate": ("没有符合条件的社群可分配奖励。", "No community qualifies for this reward pool."),
    "reward_too_large": (
        "单个成员的奖励超过微信单笔转账上限（1999.99 元），请减少奖励池金额或拆成多个奖励池。",
        "One member's reward is above what a single WeChat transfer carries.",
    ),
    "pool_not_found": ("奖励池不存在。", "This reward pool does not exist."),
    "reward_not_found": ("奖励不存在。", "This reward does not exist."),
    "reward_already_paid": ("这笔奖励已到账。", "This reward has already been paid to you."),
    "reward_below_minimum": (
        "你在该社群待领取的小额奖励合计不足 0.1 元（微信转账最低金额），累计满 0.1 元后会一起发放。",
        "Your small rewards in this community add up to less than 0.1 yuan, WeChat's minimum; "
        "they are paid together once they reach it.",
    ),
    "pool_window_open": (
        "奖励池的统计周期尚未结束，请在周期最后一天结束后（北京时间次日零点后几分钟）再确认发放。",
        "The pool's period has not ended yet: commit it once its last day is over.",
    ),
    "pool_rollup_pending": (
        "活跃度统计尚未汇总完奖励池的整个周期，请几分钟后再确认发放；若长时间如此，请联系平台检查统计任务。",
        "The metrics are not yet rolled up over the pool's whole period: commit it in a few minutes.",
    ),
    "export_window_too_long": (
        "导出的时间范围需在 1 到 366 天之间。",
        "The export's date range must be 1 to 366 days.",
    ),
    "export_too_large": (
        "导出的数据超过 5 万行，请缩小时间范围。",
        "The export exceeds 50,000 rows: narrow the dates.",
    ),
    "pool_not_paid": ("奖励池尚未付款，请先完成支付。", "This reward pool is not paid yet: pay it first."),
    "pool_cancelled": ("奖励池已取消。", "This reward pool was cancelled."),
    "pool_committed": (
        "奖励池已确认发放，无法取消。",
        "This reward pool is committed and paid out: it cannot be cancelled.",
    ),
    "brand_has_no_communities": (
        "品牌下还没有社群，请先添加社群。",
        "The brand has no community yet: attach one first.",
    ),
    # Polls and trials
    "poll_not_accepting_proposals": ("投票已停止征集名称。", "This poll no longer takes proposals."),
    "poll_not_accepting_votes": ("现在不能投票。", "Voting is not open now."),
    "poll_closed": ("投票已结束。", "This poll has closed."),
    "poll_phase_changed": (
        "投票阶段已经变了（可能其他管理员刚刚操作过），请刷新后查看。",
        "The poll has already moved on (perhaps another admin did it). Refresh to see it.",
    ),
    "poll_not_closed": ("投票结束后才会公布结果。", "Results are published when the poll closes."),
    "duplicate_proposal": (
        "这个名字已经有人提过了，去给它投票吧。",
        "This name was already proposed: vote for it instead.",
    ),
    "proposal_limit_reached": ("你的提名次数已用完。", "You have made all the proposals you can."),
    "vote_limit_reached": (
        "你的票数已用完，可撤回一票再投。",
        "You have used all your votes; withdraw one to vote again.",
    ),
    "already_voted": ("你已经投过这个名字了。", "You already voted for this name."),
    "vote_changes_not_allowed": ("本次投票不能更改或撤回。", "Votes cannot be changed in this poll."),
    "proposal_not_votable": ("该名字暂不能投票。", "This name cannot get votes now."),
    "proposal_merged": ("该名字已合并到另一个名字。", "This name was merged into another one."),
    "invalid_merge": ("无法这样合并。", "These names cannot be merged."),
    "not_trial_holder": ("只有获得试用资格的成员可以操作。", "Only the member who won this trial can do this."),
    "trial_expired": ("试用资格已过期。", "This trial has expired."),
    "trial_not_claimed": ("请先领取试用资格。", "Please claim the trial first."),
    "trial_already_shipped": ("试用品已发货，无法修改。", "The trial has shipped and can no longer change."),
    "trial_void": (
        "该试用资格已作废（领取人已注销账号），无需再发货。",
        "This trial has ended (its holder's account was deleted): there is nothing to ship.",
    ),
    "trial_holder_removed": (
        "试用资格的领取人已被移出该社群，暂不能领取或发货。",
        "The trial's holder was removed from the community: it cannot be claimed or shipped now.",
    ),
    "feedback_exists": ("你已经提交过反馈了。", "You have already given feedback."),
    "no_feedback": ("还没有可分享的反馈。", "There is no feedback to share yet."),
    "points_not_spendable": (
        "该社群所属品牌未开通积分兑换。",
        "This community's brand does not let members spend points.",
    ),
    "no_points_offer": ("本次投票没有可用积分兑换的试用名额。", "This poll offers no trial places for points."),
    "trial_redemption_closed": (
        "现在不能兑换：投票结束后、领取截止前才可以用积分兑换试用名额。",
        "Places can be redeemed only after the poll closes and before its claim deadline.",
    ),
    "trial_already_held": ("你已经获得本次投票的试用资格了。", "You already hold a trial of this poll."),
    "no_places_left": ("积分兑换的试用名额已被抢完。", "Every trial place for points has been taken."),
    "not_enough_points": ("积分不足，多参加打卡活动攒积分吧。", "You do not have enough points for this place."),
    "points_places_below_redeemed": ("名额不能少于已兑换的数量。", "Places cannot be fewer than those redeemed."),
    # Activities and meetups
    "check_in_late": ("本期打卡已结束，下期再来吧。", "This check-in has closed. Join the next one."),
    "check_in_not_open": ("打卡还没开始。", "Check-in has not opened yet."),
    "already_checked_in": ("本期已经打过卡了。", "You have already checked in this time."),
    "activity_ended": ("活动已结束。", "This activity has ended."),
    # Safety: blocks and mentions
    "cannot_block_yourself": ("不能屏蔽自己。", "You cannot block yourself."),
    "too_many_blocks": ("屏蔽名单已满，请先移除一些再试。", "Your block list is full. Unblock someone first."),
    "too_many_mentions": ("一次提及的人太多了，请减少后再发布。", "Too many members mentioned. Mention fewer."),
    "mention_not_member": ("只能提及本社群的成员。", "You can only mention members of this community."),
    "already_reported": ("你已经举报过了，处理结果会通知你。", "You already reported this; you will hear the outcome."),
    "cannot_report_yourself": ("不能举报自己。", "You cannot report yourself."),
    "case_decided": ("其他管理员已处理该举报，请刷新。", "Another moderator already decided this. Please refresh."),
    "author_not_member": (
        "作者已不在本社群，无法禁言或移出，可以只处理内容。",
        "The author is no longer in this community: decide the content without muting or removing them.",
    ),
    "meetup_full": ("名额已满。", "This meetup is full."),
    "meetup_cancelled": ("活动已取消。", "This meetup was cancelled."),
    "signup_closed": ("报名已截止。", "Sign-up has closed."),
    "not_signed_up": ("你还没有报名这个活动。", "You have not signed up for this meetup."),
    "cancellation_closed": ("已过可取消报名的时间。", "It is too late to cancel."),
    "meetup_attended": (
        "你已在现场签到，已付的报名费用不能退回，报名也不能取消。",
        "You checked in at the venue: the fee is not refunded and the place cannot be given up.",
    ),
    "meetup_started": ("活动已开始，不能再取消。", "This meetup has started and can no longer be cancelled."),
    "capacity_below_signups": ("名额不能少于已报名人数。", "Capacity cannot be below the sign-ups."),
    "venue_check_in_closed": ("现在不在签到时间内。", "Venue check-in is not open now."),
    "venue_code_invalid": ("签到码无效。", "This check-in code is not valid."),
    "venue_code_expired": (
        "签到码已过期，请扫描现场最新的二维码。",
        "This code expired: scan the one shown at the venue now.",
    ),
    # Apps
    "app_not_renewable": ("该功能无需续费。", "This feature cannot be renewed."),
    # Photos
    "media_unsupported_type": (
        "只支持 JPG、PNG、WebP、GIF 和 HEIC 格式的图片。",
        "Only JPG, PNG, WebP, GIF and HEIC images can be uploaded.",
    ),
    "media_too_large": ("图片不能超过 10MB，请压缩后再上传。", "Images must be under 10 MB. Please compress it."),
    "media_too_many_pixels": ("图片尺寸过大，请裁剪或缩小后再上传。", "This image is too large. Please resize it."),
    "media_unreadable": ("图片已损坏或不完整，请重新选择。", "This image is damaged. Please choose another."),
    "media_link_invalid": ("图片链接已过期，请刷新后查看。", "This image link has expired. Refresh to see it."),
}

# WeChat's content-check labels -> why a text was refused, for the member who wrote it.
CONTENT_LABELS: dict[int, tuple[str, str]] = {
    10001: ("内容含有广告信息，请修改后再发布。", "This looks like advertising. Please edit it."),
    20001: ("内容涉及时政敏感信息，请修改后再发布。", "This touches on sensitive political topics. Please edit it."),
    20002: ("内容含有色情信息，请修改后再发布。", "This contains sexual content. Please edit it."),
    20003: ("内容含有辱骂信息，请文明发言。", "This contains abuse. Please keep it civil."),
    20006: ("内容涉及违法犯罪信息，请修改后再发布。", "This mentions illegal activity. Please edit it."),
    20008: ("内容疑似欺诈信息，请修改后再发布。", "This looks like fraud. Please edit it."),
    20012: ("内容低俗，请修改后再发布。", "This is vulgar. Please edit it."),
    20013: ("内容可能侵犯版权，请修改后再发布。", "This may infringe copyright. Please edit it."),
    21000: ("内容未通过安全检查，请修改后再发布。", "This did not pass the safety check. Please edit it."),
}


def prefers_english(accept_language: str | None) -> bool:
    """English when the first of zh/en in Accept-Language (by q, then order) is English; else Chinese."""
    if not accept_language:
        return False
    ranked = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = tag.strip().lower().split("-")[0]
        if language in ("zh", "en") and quality > 0:
            ranked.append((-quality, position, language))
    return bool(ranked) and min(ranked)[2] == "en"


def user_message(code: str, english: bool, label: int | None = None) -> str:
    """The member's message for ``code`` (a content label's own reason when WeChat gave one)."""
    texts = CONTENT_LABELS.get(label) if label is not None else None
    zh, en = texts or USER_MESSAGES[code]
    return en if english else zh
