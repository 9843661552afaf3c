"""What a payer reads in WeChat's refund message (service/core/money/notices.py): Chinese for every refund reason
the service can build, so a new refusal or a new refund cannot ship with English for the payer."""

from __future__ import annotations

import ast
import re

from service.communities.paid import REFUSED_BY_ADMIT
from service.core.money.notices import GENERIC_NOTICE, NOTICES, WECHAT_REASON_MAX, has_chinese, refund_notice
from tests.support import ROOT

# The calls that promise a refund, and where their reason is when passed by position.
REFUND_CALLS = {"refund_order": None, "promise_refund": 5, "request_refund": 5}
# A reason or a code known only at run time, and the codes it can be (reviewed by hand).
DYNAMIC = {("service/communities/paid.py", "problem.code"): REFUSED_BY_ADMIT}
# The refund reasons known only at run time, each reviewed by hand: a person's own words (refund_notice sends
# Chinese as typed, anything else as the generic notice), or a value whose literal parts are walked where made.
RUN_TIME = {
    ("service/checkout/routes.py", "data.reason"),  # the payer's words
    ("service/communities/paid.py", "data.reason.strip()"),  # the admin's words
    ("service/core/money/payments.py", "refusal.reason"),  # a `Refuse` code, walked at each Refuse(...)
    ("service/core/money/refunds.py", "reason"),  # the callers' reasons, walked at each call
    ("service/collections/closing.py", "refund_reason"),  # walked where it is assigned
}
_CODE = re.compile(r"^([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?::|$)")


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _argument(call: ast.Call, keyword: str, position: int | None) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


class Source:
    """One module: its string constants, and the codes its refusals and refund reasons start with."""

    def __init__(self, relative: str, tree: ast.Module) -> None:
        self.relative = relative
        self.tree = tree
        self.constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        self.codes: dict[str, str] = {}  # code -> where it was found
        self.problems: list[str] = []
        self.run_time: set[tuple[str, str]] = set()  # (module, expression) of reasons known only at run time

    def where(self, node: ast.AST) -> str:
        return f"{self.relative}:{node.lineno}"

    def problem(self, node: ast.AST, what: str) -> None:
        found = f"{self.where(node)}: {what}"
        if found not in self.problems:  # a nested function is walked with its enclosing one too
            self.problems.append(found)

    def text_code(self, text: str, node: ast.AST) -> None:
        """A fixed reason: it must start with a code (`code` or `code: detail`); empty is none given."""
        matched = _CODE.match(text)
        if matched is None and text:
            self.problem(node, f"a fixed refund reason without a code: {text!r}")
        elif matched is not None:
            self.codes.setdefault(matched.group(1), self.where(node))

    def reason(self, expr: ast.expr, function: ast.AST, seen: frozenset[str] = frozenset()) -> None:
        """The literal parts a refund reason is built from; values known only at run time (a person's words, a
        refusal's own code, a parameter) are checked where they are made."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            self.text_code(expr.value, expr)
        elif isinstance(expr, ast.JoinedStr) and expr.values:
            head = expr.values[0]
            if isinstance(head, ast.Constant):
                self.text_code(head.value, expr)
            elif isinstance(head.value, ast.Name) and head.value.id in self.constants:
                self.text_code(self.constants[head.value.id], expr)
            else:
                self.run_time.add((self.relative, ast.unparse(head.value)))
        elif isinstance(expr, ast.IfExp):
            self.reason(expr.body, function, seen)
            self.reason(expr.orelse, function, seen)
        elif isinstance(expr, ast.BoolOp):
            for value in expr.values:
                self.reason(value, function, seen)
        elif isinstance(expr, ast.Name) and expr.id not in seen:
            known = expr.id in self.constants
            if known:
                self.text_code(self.constants[expr.id], expr)
            for node in ast.walk(function):
                if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == expr.id for t in node.targets
                ):
                    known = True
                    self.reason(node.value, function, seen | {expr.id})
            if not known:  # a parameter
                self.run_time.add((self.relative, expr.id))
        elif not isinstance(expr, ast.Name):  # a call, an attribute: made elsewhere, or a person's words
            self.run_time.add((self.relative, ast.unparse(expr)))

    def refusal(self, call: ast.Call) -> None:
        code = _argument(call, "reason", 0)
        if isinstance(code, ast.Constant) and isinstance(code.value, str):
            self.codes.setdefault(code.value, self.where(call))
        elif isinstance(code, ast.Name) and code.id in self.constants:
            self.codes.setdefault(self.constants[code.id], self.where(call))
        elif code is not None and (self.relative, ast.unparse(code)) in DYNAMIC:
            for known in DYNAMIC[(self.relative, ast.unparse(code))]:
                self.codes.setdefault(known, self.where(call))
        else:
            self.problem(call, "Refuse with a code this test cannot read")

    def walk(self) -> Source:
        for function in ast.walk(self.tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and _call_name(node) == "Refuse":
                    self.refusal(node)
                elif isinstance(node, ast.Call) and _call_name(node) in REFUND_CALLS:
                    reason = _argument(node, "reason", REFUND_CALLS[_call_name(node)])
                    if reason is not None:
                        self.reason(reason, function)
                elif isinstance(node, ast.Call):  # a reason handed on to what refunds (`refund_reason=`)
                    for kw in node.keywords:
                        if kw.arg == "refund_reason":
                            self.reason(kw.value, function)
                elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "refund_reason" for t in node.targets
                ):
                    self.reason(node.value, function)
        return self


def _sources() -> list[Source]:
    return [
        Source(str(path.relative_to(ROOT)), ast.parse(path.read_text())).walk()
        for path in sorted((ROOT / "service").rglob("*.py"))
    ]


def service_codes() -> tuple[dict[str, str], list[str]]:
    codes: dict[str, str] = {}
    problems: list[str] = []
    for source in _sources():
        for code, where in source.codes.items():
            codes.setdefault(code, where)
        problems += source.problems
    return codes, problems


def wechat_refunds(source: Source) -> list[str]:
    """The calls in this module asking WeChat Pay for a refund (the client's `refund(out_refund_no=...)`), each
    with the reason it sends."""
    return [
        ast.unparse(_argument(node, "reason", None) or ast.Constant(None))
        for node in ast.walk(source.tree)
        if isinstance(node, ast.Call)
        and _call_name(node) == "refund"
        and any(kw.arg == "out_refund_no" for kw in node.keywords)
    ]


def test_every_refusal_and_refund_reason_of_the_service_has_a_chinese_notice():
    codes, problems = service_codes()
    assert problems == []
    # The walk finds what it must (a check that finds nothing would pass forever).
    expected = {"order_closed", "community_full", "already_in_series", "collection_cancelled", "initiator_left"}
    expected |= {"meetup_cancelled", "payer_request", "member_left", "signup_cancelled", "pool_cancelled"}
    assert expected <= set(codes)
    missing = {code: where for code, where in codes.items() if code not in NOTICES}
    assert missing == {}, "add the payer's notice of each to service/core/money/notices.py"
    assert set(NOTICES) - set(codes) == set(), "a notice of a code nothing refunds with any more"
    assert all(has_chinese(notice) and not notice.endswith("。") for notice in NOTICES.values())
    assert all(len(notice) <= WECHAT_REASON_MAX for notice in NOTICES.values())


def test_every_refund_reason_known_only_at_run_time_was_reviewed():
    # A new one (an error's English detail, a value from elsewhere) is read here before it can reach a payer.
    assert set().union(*(source.run_time for source in _sources())) == RUN_TIME


def test_wechat_pay_is_asked_for_refunds_in_one_place_with_the_chinese_notice():
    # Meetups, apps, collections, entry fees, brand pools: every refund goes through checkout's refund job, whose
    # one call sends the notice; a domain calling WeChat Pay itself would send its own words.
    asked = {source.relative: calls for source in _sources() if (calls := wechat_refunds(source))}
    assert asked == {"service/core/money/refunds.py": ["refund_notice(row['reason'])"]}


def test_the_walk_catches_english_reasons_and_unreadable_codes():
    sample = ast.parse(
        "async def f(conn, order_id, why, problem):\n"
        "    await refund_order(conn, order_id, reason='the meetup was cancelled')\n"
        "    await refund_order(conn, order_id, reason=f'brand_new: {why}')\n"
        "    refund_reason = 'fresh_code: because'\n"
        "    await refund_order(conn, order_id, reason=why.strip())\n"
        "    await refund_order(conn, order_id, reason=f'{problem.code}: {why}')\n"
        "    await pay.refund(out_trade_no=order_id, out_refund_no='RF1', refund_fen=1, total_fen=1, reason=why)\n"
        "    return Refuse(problem.code, '')\n"
    )
    source = Source("sample.py", sample).walk()
    assert set(source.codes) == {"brand_new", "fresh_code"}
    assert source.run_time == {("sample.py", "why.strip()"), ("sample.py", "problem.code")}
    assert wechat_refunds(source) == ["why"]
    assert sorted(source.problems) == [
        "sample.py:2: a fixed refund reason without a code: 'the meetup was cancelled'",
        "sample.py:8: Refuse with a code this test cannot read",
    ]


def test_a_code_gives_its_notice_and_a_persons_chinese_detail():
    assert refund_notice("community_full: all 100 places are taken") == "社群名额已满，入群费用原路退回"
    assert refund_notice("collection_cancelled: 下雨取消") == "收款已取消，已付款项原路退回：下雨取消"
    assert refund_notice("collection_cancelled: the collection was cancelled") == "收款已取消，已付款项原路退回"
    assert refund_notice("pool_cancelled: 奖励池已取消") == "奖励池已取消，款项原路退回"  # said once
    assert refund_notice("payer_request") == "已按你的申请退款，款项原路退回"
    assert refund_notice("signup_cancelled: the member cancelled the sign-up") == "你已取消活动报名，报名费用原路退回"


def test_a_persons_own_words_go_as_typed_and_english_never_reaches_the_payer():
    assert refund_notice("不想参加了") == "不想参加了"
    assert refund_notice("  补差价 ") == "补差价"
    assert refund_notice("admin: duplicate charge") == GENERIC_NOTICE
    assert refund_notice("some_new_code: something English") == GENERIC_NOTICE
    assert refund_notice("") == GENERIC_NOTICE
    assert has_chinese(GENERIC_NOTICE)


def test_the_notice_fits_wechats_80_characters():
    long = "活动取消" * 30
    assert refund_notice(long) == long[:79] + "…"
    cancelled = refund_notice(f"collection_cancelled: {long}")
    assert len(cancelled) == WECHAT_REASON_MAX and cancelled.startswith("收款已取消，已付款项原路退回：活动取消")
