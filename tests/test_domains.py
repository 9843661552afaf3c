"""The domain declarations: one list builds the app and the worker, every code a domain answers is declared in
its table, and work that no declared domain can finish stops start-up instead of failing at run time."""

from __future__ import annotations

import ast
import asyncio
import inspect
import sys
from pathlib import Path

import asyncpg
import pytest

from service.app import create_app
from service.core.domain import Domain, install, job_registry, problem_table
from service.core.money.purposes import Purpose, declared_purposes
from service.core.privacy import Privacy
from service.core.problems import SHARED
from service.domains import DOMAINS
from service.jobs import Registry
from service.wechat.errors import WECHAT
from tests.support import ROOT

SERVICE = ROOT / "service"
CORE_LAYERS = {"core": SHARED, "wechat": WECHAT}


def _raised_codes(path: Path) -> set[str]:
    """The string literals a module passes as the code of `Problem(...)`."""
    codes = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Problem" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes.add(first.value)
    return codes


def test_every_code_a_domain_raises_is_declared_in_its_table():
    tables = {domain.name: domain.problems for domain in DOMAINS} | CORE_LAYERS
    missing = []
    for package, table in tables.items():
        for module in sorted((SERVICE / package).rglob("*.py")):
            missing += [f"{module.relative_to(ROOT)}: {code}" for code in sorted(_raised_codes(module) - set(table))]
    assert not missing, missing


def test_the_app_answers_with_the_union_of_the_domains_tables(settings):
    app = create_app(settings)
    assert app.state.problems == problem_table(DOMAINS)
    assert {"not_member", "forbidden", "community_full", "duplicate_proposal"} <= set(app.state.problems)
    # The pair unified by foundation v2: one code for "not a member", one for "not allowed", in every domain.
    assert not {"not_community_member", "admins_only"} & set(app.state.problems)


def test_purposes_and_jobs_come_from_the_list_only():
    try:
        jobs = install(DOMAINS[:1])  # auth alone: no purpose, its one job
        assert declared_purposes() == frozenset() and set(jobs.handlers) == {"accounts.erase"}
        jobs = install(DOMAINS)
        assert {
            "community_entry",
            "collection_share",
            "app",
            "meetup",
            "reward",
            "community_payout",
        } <= declared_purposes()
        assert {"checkout.reconcile", "feed.recheck", "polls.advance", "robots.warmup"} <= set(jobs.handlers)
    finally:
        install(DOMAINS)


def test_a_purpose_or_job_declared_twice_stops_start_up():
    twice = Registry()
    twice.register("checkout.reconcile", lambda ctx, payload: asyncio.sleep(0))
    with pytest.raises(ValueError, match="checkout.reconcile"):
        job_registry((*DOMAINS, Domain("copycat", jobs=[twice])))
    with pytest.raises(ValueError, match="community_entry"):
        install((*DOMAINS, Domain("copycat", purposes=[Purpose("community_entry", on_paid=None)])))
    install(DOMAINS)


def test_an_export_section_the_export_does_not_have_stops_start_up():
    typo = Privacy(exports={"check_in": "SELECT 1 WHERE $1::bigint IS NULL"})
    with pytest.raises(RuntimeError, match="check_in"):
        install((*DOMAINS, Domain("copycat", privacy=typo)))
    install(DOMAINS)


def _messages(error: BaseException) -> str:
    inner = getattr(error, "exceptions", ())
    return " | ".join(_messages(e) for e in inner) if inner else str(error)


UNDECLARED_WORK = """
WITH payer AS (INSERT INTO users (appid, openid) VALUES ('wx-test-app', 'o-ghost') RETURNING id),
     community AS (INSERT INTO communities (owner_id, name, welcome_template) SELECT id, 'ghosts', '' FROM payer
                   RETURNING id),
     job AS (INSERT INTO jobs (kind) VALUES ('ghost.haunt'))
INSERT INTO orders (out_trade_no, payer_user_id, payer_openid, purpose, description, amount_fen, time_expire,
                    community_id)
SELECT 'CKGHOST1', payer.id, 'o-ghost', 'ghost', 'a purpose no domain declares', 100, now() + interval '1 hour',
       community.id
FROM payer, community
"""


async def test_work_no_domain_declares_stops_the_app_and_the_worker(settings, database_url):
    """A domain left out of service/domains.py with its jobs queued and its orders open: both processes refuse
    to start and name what is missing, instead of failing when a job or a payment notification arrives."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(UNDECLARED_WORK)
    finally:
        await conn.close()

    app = create_app(settings)
    with pytest.raises(BaseException) as raised:  # Litestar's task group wraps it
        async with app.lifespan():
            pass
    assert "not declared by any domain in service/domains.py: job kind 'ghost.haunt', payment purpose 'ghost'" in (
        _messages(raised.value)
    )

    env = {"DATABASE_URL": database_url, "SECRET_KEY": settings.secret_key, "ENVIRONMENT": "test", "PATH": "/usr/bin"}
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "worker", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(worker.communicate(), 60)
    assert worker.returncode != 0
    assert b"not declared by any domain" in output and b"ghost.haunt" in output, output.decode()


def test_no_handler_holding_the_requests_connection_takes_another_from_the_pool(settings):
    """`user: CurrentUser` and `db` hold a pooled connection for the whole request: a handler that also takes one
    from `state.pool` holds two, so as many such requests at once as the pool has connections wait for each other
    forever (found in uploads, exports, refunds, brand pools and posters). Such a handler takes `caller`."""
    holding = []
    for route in create_app(settings).routes:
        for handler in getattr(route, "route_handlers", ()):
            fn = handler.fn
            params = inspect.signature(fn).parameters
            if {"user", "db"} & set(params) and "state.pool" in inspect.getsource(fn):
                holding.append(f"{fn.__module__}.{fn.__qualname__}")
    assert not holding, holding
