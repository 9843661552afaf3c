"""Citus: the plan (citus.sql beside this module) and `python -m service distribute`, which runs it on a
coordinator. Single-server PostgreSQL never runs this: its schema stays as the migrations made it.

Citus refuses a distributed table whose primary or unique key lacks the distribution column, and a foreign key
between distributed tables that does not go through it. The step therefore, in one transaction: drops the
foreign keys of the tables still to place, widens those tables' keys with their distribution column (same
names, so `ON CONFLICT ON CONSTRAINT` works on both), places every table in the plan's order, and puts the
foreign keys back, widened with community_id between co-located tables. The few Citus cannot have (a local or
per-member table pointing into a community's shard) are reported, not kept. Idempotent: tables already where
the plan says are left alone, and nothing runs when every table is in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

PLAN_FILE = Path(__file__).with_name("citus.sql")
_STATEMENT = re.compile(
    r"^SELECT (?P<call>create_distributed_table|create_reference_table|citus_add_local_table_to_metadata)"
    r"\('(?P<table>\w+)'(?:, '(?P<column>\w+)')?(?:, colocate_with => '(?P<colocate>\w+)')?\);$"
    r"|^-- pending: (?P<pending>\w+)",
    re.MULTILINE,
)
_KIND = {
    "create_distributed_table": "distributed",
    "create_reference_table": "reference",
    "citus_add_local_table_to_metadata": "local",
}
_FOREIGN_KEY = re.compile(
    r"^FOREIGN KEY \((?P<cols>[^)]*)\) REFERENCES (?P<ref>[\w.]+)\((?P<refcols>[^)]*)\)(?P<rest>.*)$"
)


class DistributeError(RuntimeError):
    """The plan cannot run here; the message says why and what to do."""


@dataclass(frozen=True)
class Placement:
    table: str
    kind: str  # distributed, reference or local
    column: str | None  # the distribution column
    statement: str

    @property
    def group(self) -> str | None:
        """Tables of one group share shards: a foreign key between them is allowed through this column."""
        return self.column and ("community" if self.column in ("community_id", "id") else "member")


@dataclass
class Outcome:
    placed: dict[str, str] = field(default_factory=dict)  # table -> kind, for the tables placed by this run
    keys_widened: list[str] = field(default_factory=list)
    foreign_keys_widened: list[str] = field(default_factory=list)
    foreign_keys_dropped: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # kind -> tables in place once done


def load_plan(text: str | None = None) -> list[Placement]:
    text = PLAN_FILE.read_text() if text is None else text
    plan = []
    for m in _STATEMENT.finditer(text):
        if m["pending"]:
            raise DistributeError(f"{m['pending']} is still pending in the plan: give it its column and place first")
        plan.append(Placement(m["table"], _KIND[m["call"]], m["column"] or None, m.group(0)))
    return plan


async def current_placement(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT logicalrelid::regclass::text AS name, partmethod::text, repmodel::text FROM pg_dist_partition "
        "WHERE NOT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = logicalrelid)"
    )
    kinds = {"h": "distributed"}
    return {r["name"]: kinds.get(r["partmethod"], "reference" if r["repmodel"] == "t" else "local") for r in rows}


async def distribute(conn: asyncpg.Connection, plan: list[Placement] | None = None) -> Outcome:
    if not await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'citus'"):
        raise DistributeError(
            "this server has no Citus extension: `distribute` runs only on a Citus coordinator "
            "(CREATE EXTENSION citus, workers added). A single PostgreSQL server needs no distribution step."
        )
    plan = load_plan() if plan is None else plan
    tables = {
        r["relname"]
        for r in await conn.fetch(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind IN ('r', 'p') AND NOT relispartition"
        )
    }
    named = {p.table for p in plan}
    if tables - named:
        raise DistributeError(f"tables without a place in the plan (service/db/citus.sql): {sorted(tables - named)}")
    if named - tables:
        raise DistributeError(f"the plan names tables this database lacks (migrate first): {sorted(named - tables)}")
    outcome = Outcome()
    async with conn.transaction():
        # DDL and data copies of several co-located tables in one transaction: Citus needs one connection per node.
        await conn.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
        # posts and comments keep the speech roll-up by triggers (migration 0029), and posts void check-ins (0046),
        # which write only the co-located shard of the same community: Citus distributes tables with triggers only
        # when told so.
        await conn.execute("SET LOCAL citus.enable_unsafe_triggers TO on")
        placed = await current_placement(conn)
        wrong = {p.table: placed[p.table] for p in plan if p.table in placed and placed[p.table] != p.kind}
        if wrong:
            raise DistributeError(f"tables placed otherwise than the plan says (undistribute them first): {wrong}")
        todo = [p for p in plan if p.table not in placed]
        if todo:
            foreign_keys = await _drop_foreign_keys(conn, [p.table for p in todo])
            for p in todo:
                if p.kind == "distributed":
                    outcome.keys_widened += await _widen_keys(conn, p.table, p.column)
            for p in todo:
                await conn.execute(p.statement)
                outcome.placed[p.table] = p.kind
            by_table = {p.table: p for p in plan}
            for table, name, definition in foreign_keys:
                await _restore_foreign_key(conn, by_table, table, name, definition, outcome)
        final = await current_placement(conn)
    for kind in ("distributed", "reference", "local"):
        outcome.counts[kind] = sum(1 for p in plan if final.get(p.table) == kind)
    return outcome


async def _drop_foreign_keys(conn: asyncpg.Connection, tables: list[str]) -> list[tuple[str, str, str]]:
    rows = await conn.fetch(
        "SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
        "WHERE contype = 'f' AND conparentid = 0 AND connamespace = 'public'::regnamespace "
        "AND (conrelid::regclass::text = ANY($1) OR confrelid::regclass::text = ANY($1)) ORDER BY 1, 2",
        tables,
    )
    for r in rows:
        await conn.execute(f'ALTER TABLE {r["tbl"]} DROP CONSTRAINT "{r["conname"]}"')
    return [(r["tbl"], r["conname"], r["def"]) for r in rows]


async def _widen_keys(conn: asyncpg.Connection, table: str, column: str) -> list[str]:
    """Primary and unique keys (constraints and unique indexes, partial ones too) gain the distribution column."""
    widened = []
    constraints = await conn.fetch(
        "SELECT conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attname = $2 "
        "WHERE c.conrelid = $1::regclass AND c.contype IN ('p', 'u') AND NOT a.attnum = ANY(c.conkey)",
        table,
        column,
    )
    for r in constraints:
        await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{r["conname"]}"')
        await conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{r["conname"]}" {_prepend(r["def"], column)}')
        widened.append(f"{table}.{r['conname']}")
    indexes = await conn.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attname = $2 "
        "WHERE i.indrelid = $1::regclass AND i.indisunique AND NOT a.attnum = ANY(i.indkey) "
        "AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        table,
        column,
    )
    for r in indexes:
        await conn.execute(f"DROP INDEX {r['name']}")
        await conn.execute(_prepend(r["def"].replace(" ON ONLY ", " ON "), column, after="USING btree ("))
        widened.append(f"{table}.{r['name']}")
    return widened


def _prepend(definition: str, column: str, after: str = "(") -> str:
    at = definition.index(after) + len(after)
    return f"{definition[:at]}{column}, {definition[at:]}"


async def _restore_foreign_key(
    conn: asyncpg.Connection, plan: dict[str, Placement], table: str, name: str, definition: str, outcome: Outcome
) -> None:
    fk = _FOREIGN_KEY.match(definition)
    source, target = plan[table], plan.get(fk["ref"].removeprefix("public.")) if fk else None
    label = f"{table}.{name} ({definition})"
    if fk is None or target is None:
        outcome.foreign_keys_dropped.append(label)
        return
    if target.kind == "reference" and source.kind in ("distributed", "reference", "local"):
        await conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        return
    if source.kind == target.kind == "distributed" and source.group == target.group:
        cols = [c.strip() for c in fk["cols"].split(",")]
        if source.column not in cols:
            # Within one community: the row and the row it points at share community_id, hence the shard.
            definition = (
                f"FOREIGN KEY ({source.column}, {fk['cols']}) REFERENCES {fk['ref']}({target.column}, "
                f"{fk['refcols']}){fk['rest']}"
            )
            outcome.foreign_keys_widened.append(f"{table}.{name}")
        await conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        return
    outcome.foreign_keys_dropped.append(label)
