"""For `make citus-check`: every SQL constant of service/ planned on the Citus coordinator (EXPLAIN, sample
arguments by type), sorted into router (one shard), multi-shard, refused by Citus, plain (no Citus table) or fragment.

A statement's constant is a module-level upper-case string that starts as SQL. Fragments that are not whole
statements (a CTE's body, a format template) fail with a syntax, reference or parameter type error: they are
listed apart, as fragments. The survey says which planned, it proves no statement right. Every statement is
also run with the sample arguments (rolled back): Citus matches an ON CONFLICT target with the shard's keys, and
sends a multi-shard statement's subqueries to the shards, only then. A SQL function called over a distributed
table is refused only when it runs a query (robots' rules, activities' and warm-up's app checks did), and a join
a NULL parameter makes false only with that NULL (the samples give none): the survey misses those.
"""

from __future__ import annotations

import datetime
import decimal
import importlib
import pkgutil
import re

import asyncpg

import service
from service.feed.page_queries import Pages

_SQL = re.compile(r"^\s*(--[^\n]*\n\s*)*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)
_SAMPLES = {
    "int2": 1,
    "int4": 1,
    "int8": 1,
    "numeric": decimal.Decimal(1),
    "float4": 1.0,
    "float8": 1.0,
    "text": "x",
    "varchar": "x",
    "bpchar": "x",
    "name": "x",
    "bool": False,
    "timestamptz": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    "timestamp": datetime.datetime(2026, 1, 1),  # noqa: DTZ001
    "date": datetime.date(2026, 1, 1),
    "time": datetime.time(0),
    "interval": datetime.timedelta(seconds=1),
    "json": "{}",
    "jsonb": "{}",
    "bytea": b"x",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "inet": "127.0.0.1",
}
# A constant that is no whole statement (a CTE's body naming its siblings, a format template, a select list
# whose parameters only the whole statement types) fails before Citus plans anything.
_FRAGMENT = (asyncpg.PostgresSyntaxError, asyncpg.UndefinedTableError, asyncpg.IndeterminateDatatypeError)
# Not the product's statements: the WeChat sandbox's own, the command line's.
_SKIP = (".sandbox", "__main__")


def statements() -> dict[str, str]:
    found: dict[str, str] = {}
    seen: set[str] = set()
    for info in pkgutil.walk_packages(service.__path__, "service."):
        if any(part in info.name for part in _SKIP):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if not name.isupper():
                continue
            # A paged read is a pair of statements (service/feed/page_queries.Pages): each is surveyed.
            named = value._asdict() if isinstance(value, Pages) else {"": value}
            for part, sql in named.items():
                if isinstance(sql, str) and _SQL.match(sql) and sql not in seen:
                    seen.add(sql)
                    found[f"{info.name.removeprefix('service.')}.{name}{'.' + part if part else ''}"] = sql
    return found


async def survey(url: str) -> dict[str, list[tuple[str, str]]]:
    verdicts: dict[str, list[tuple[str, str]]] = {
        "router": [],
        "multi-shard": [],
        "refused": [],
        "plain": [],
        "fragment": [],
    }
    conn = await asyncpg.connect(url)
    try:
        for name, sql in statements().items():
            transaction = conn.transaction()
            await transaction.start()
            # As a production coordinator runs them: the check's database allows repartition joins for the tests'
            # own assertions, which would hide a product statement joining shards on another column.
            await conn.execute("SET LOCAL citus.enable_repartition_joins = off")
            args: list = []
            try:
                prepared = await conn.prepare(f"EXPLAIN (COSTS OFF) {sql}")
                args = [[] if t.kind == "array" else _SAMPLES.get(t.name) for t in prepared.get_parameters()]
                plan = "\n".join(r[0] for r in await prepared.fetch(*args))
                tasks = re.findall(r"Task Count: (\d+)", plan)
                # A shard's error in EXPLAIN ("Could not get remote plan") leaves the transaction aborted: the
                # statement runs in a fresh one.
                await transaction.rollback()
                transaction = conn.transaction()
                await transaction.start()
                await conn.execute("SET LOCAL citus.enable_repartition_joins = off")
                if refused := await _refused_when_run(conn, sql, args):
                    verdicts["refused"].append((name, refused))
                elif "Citus" not in plan:
                    verdicts["plain"].append((name, ""))
                elif tasks and all(t in ("0", "1") for t in tasks):
                    verdicts["router"].append((name, ""))
                else:
                    verdicts["multi-shard"].append((name, f"tasks {','.join(tasks) or '(insert via coordinator)'}"))
            except asyncpg.PostgresError as exc:
                # The error aborted the transaction: what follows runs in a fresh one.
                await transaction.rollback()
                transaction = conn.transaction()
                await transaction.start()
                await conn.execute("SET LOCAL citus.enable_repartition_joins = off")
                if isinstance(exc, _FRAGMENT):
                    verdicts["fragment"].append((name, str(exc).splitlines()[0]))
                    continue
                verdict, why = await _run_instead(conn, sql, args, exc)
                verdicts[verdict].append((name, why))
            finally:
                await transaction.rollback()
    finally:
        await conn.close()
    return verdicts


async def _refused_when_run(conn: asyncpg.Connection, sql: str, args: list) -> str | None:
    """A write's ON CONFLICT target is matched with the shard's keys only when it runs, and a multi-shard
    statement's subqueries are sent to the shards only then (one with an empty select list fails there): run it
    (rolled back)."""
    try:
        async with conn.transaction():
            await conn.execute(sql, *args)
    except (
        asyncpg.FeatureNotSupportedError,
        asyncpg.InvalidColumnReferenceError,
        asyncpg.PostgresSyntaxError,
    ) as refused:
        return str(refused).splitlines()[0]
    except asyncpg.PostgresError:
        pass  # the sample arguments break a constraint: it was planned
    return None


async def _run_instead(conn: asyncpg.Connection, sql: str, args: list, exc: Exception) -> tuple[str, str]:
    """Citus plans no INSERT ... SELECT with parameters under EXPLAIN ("could not create distributed plan", or
    "no value found for parameter" when it pushes one down), though it runs one: such a statement is run instead
    (rolled back). An error of the data (a foreign key the sample arguments break) means it was planned; a
    feature error, that Citus refuses it. A time zone or array literal parameter given the sample text is planned
    again with UTC or an empty array."""
    # A text parameter the statement reads as a time zone or an array literal: the sample text is neither.
    # Planned again with one.
    instead = {'time zone "x"': "UTC", 'malformed array literal: "x"': "{}"}
    if isinstance(exc, asyncpg.DataError) and (sample := next((v for k, v in instead.items() if k in str(exc)), None)):
        args = [sample if arg == "x" else arg for arg in args]
        try:
            async with conn.transaction():
                plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN (COSTS OFF) {sql}", *args))
        except asyncpg.PostgresError as again:
            return "refused", str(again).splitlines()[0]
        tasks = re.findall(r"Task Count: (\d+)", plan)
        return ("router", "") if tasks and all(t in ("0", "1") for t in tasks) else ("multi-shard", sample)
    runs_only = ("could not create distributed plan", "no value found for parameter")
    if not any(reason in str(exc) for reason in runs_only) or not args:
        return "refused", str(exc).splitlines()[0]
    try:
        async with conn.transaction():
            await conn.execute(sql, *args)
    except (asyncpg.FeatureNotSupportedError, asyncpg.InvalidColumnReferenceError) as refused:
        return "refused", str(refused).splitlines()[0]
    except asyncpg.PostgresError:
        pass
    return "multi-shard", "runs; EXPLAIN plans no INSERT ... SELECT with parameters"


def report(verdicts: dict[str, list[tuple[str, str]]]) -> None:
    print("\nstatements planned on the coordinator: " + ", ".join(f"{len(v)} {k}" for k, v in verdicts.items()))
    for name, why in verdicts["refused"]:
        print(f"  refused: {name}: {why}")
    for name, why in verdicts["fragment"]:
        print(f"  fragment (not a whole statement): {name}: {why}")
