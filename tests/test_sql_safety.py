"""SQL only through parameters: no query text built from values anywhere in the service."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re

from tests.support import ROOT

QUERY_METHODS = {"execute", "executemany", "fetch", "fetchrow", "fetchval", "prepare", "cursor"}
# Identifiers that come from the database catalogue, never from a request (reviewed by hand).
ALLOWED = {
    ("service/interactions/logic.py", "drop_expired_partitions"),
    # The distribute command's DDL: table, constraint and index names and definitions read from pg_catalog.
    ("service/db/citus.py", "_drop_foreign_keys"),
    ("service/db/citus.py", "_widen_keys"),
    ("service/db/citus.py", "_restore_foreign_key"),
    # A CSV report's row count: the report's own SQL, a constant its domain declares (core/exports.py), wrapped in
    # count(*); the request's values go as parameters.
    ("service/core/exports.py", "count"),
}


def built_sql(node: ast.AST) -> bool:
    """An f-string, a %-format, a .format() call or a concatenation with something that is not a literal."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return not (isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant))
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def built_names(function: ast.AST) -> set[str]:
    """Local names a function assigns (or extends) with built text: `sql = f"..."`, `sql += " AND " + x`."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and built_sql(node.value):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif (
            isinstance(node, ast.AugAssign | ast.AnnAssign)
            and node.value is not None
            and isinstance(node.target, ast.Name)
        ):
            if isinstance(node, ast.AugAssign) or built_sql(node.value):
                names.add(node.target.id)
    return names


def offenders_in(tree: ast.AST, relative: str) -> list[str]:
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        built = built_names(function)
        for call in ast.walk(function):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in QUERY_METHODS
                and call.args
                and (built_sql(call.args[0]) or (isinstance(call.args[0], ast.Name) and call.args[0].id in built))
                and (relative, function.name) not in ALLOWED
            ):
                found.append(f"{relative}:{call.lineno} in {function.name}()")
    return found


def offenders() -> list[str]:
    found = []
    for path in sorted((ROOT / "service").rglob("*.py")):
        found += offenders_in(ast.parse(path.read_text()), str(path.relative_to(ROOT)))
    return found


def test_no_query_is_built_from_values():
    assert offenders() == []


def test_the_check_catches_queries_built_in_a_variable():
    sample = ast.parse(
        "async def f(conn, name, order):\n"
        "    sql = 'SELECT * FROM t WHERE n = ' + repr(name)\n"
        "    await conn.fetch(sql)\n"
        "    listing = 'SELECT * FROM t'\n"
        "    listing += ' ORDER BY ' + order\n"
        "    await conn.fetch(listing)\n"
        "    fine = 'SELECT 1'\n"
        "    await conn.fetch(fine, name)\n"
    )
    assert offenders_in(sample, "sample.py") == ["sample.py:3 in f()", "sample.py:6 in f()"]


def test_the_check_catches_built_queries():
    sample = ast.parse("async def f(conn, name):\n    await conn.execute(f\"DELETE FROM t WHERE n = '{name}'\")\n")
    call = next(n for n in ast.walk(sample) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "execute")
    assert built_sql(call.args[0])
    assert not built_sql(ast.parse('"SELECT 1"', mode="eval").body)


# `SELECT id::text AS id … ORDER BY id`: a bare name in ORDER BY is the output column, so rows sort as text
# ('10' before '9') while cursors and the robots compare the number (found in 14 statements once).
_AS_TEXT = re.compile(r"::text\s+AS\s+(\w+)", re.IGNORECASE)
_ORDER_BY = re.compile(r"ORDER\s+BY\s+(.*?)(?:\bLIMIT\b|\bOFFSET\b|\)|;|$)", re.IGNORECASE | re.DOTALL)


def sorted_as_text(sql: str) -> set[str]:
    """The names a statement renders as text and sorts on unqualified."""
    keys = {key.split()[0] for order in _ORDER_BY.findall(sql) for key in order.split(",") if key.strip()}
    return set(_AS_TEXT.findall(sql)) & keys


def statements() -> dict[str, str]:
    """Every SQL text the service's modules hold once imported (f-strings assembled)."""
    found = {}
    for module_info in pkgutil.walk_packages([str(ROOT / "service")], "service."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            for number, text in enumerate(value if isinstance(value, tuple) else (value,)):
                if isinstance(text, str) and "ORDER BY" in text.upper():
                    found[f"{module_info.name}.{name}[{number}]"] = text
    return found


def test_no_statement_sorts_an_id_rendered_as_text():
    assert {where: names for where, sql in statements().items() if (names := sorted_as_text(sql))} == {}


def test_the_text_sort_check_catches_a_bare_name():
    assert sorted_as_text("SELECT id::text AS id FROM t ORDER BY id LIMIT 5") == {"id"}
    assert sorted_as_text("SELECT id::text AS id, id AS n FROM t ORDER BY n DESC, id") == {"id"}
    assert sorted_as_text("SELECT t.id::text AS id FROM t ORDER BY t.id") == set()
