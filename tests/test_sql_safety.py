"""SQL only through parameters: no query text built from values anywhere in the service."""

from __future__ import annotations

import ast

from tests.support import ROOT

QUERY_METHODS = {"execute", "executemany", "fetch", "fetchrow", "fetchval", "prepare", "cursor"}
# Identifiers that come from the database catalogue, never from a request (reviewed by hand).
ALLOWED = {("service/interactions/logic.py", "drop_expired_partitions")}


def built_sql(node: ast.AST) -> bool:
    """An f-string, a %-format, a .format() call or a concatenation with something that is not a literal."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return not (isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant))
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def offenders() -> list[str]:
    found = []
    for path in sorted((ROOT / "service").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for call in ast.walk(function):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in QUERY_METHODS
                    and call.args
                    and built_sql(call.args[0])
                    and (relative, function.name) not in ALLOWED
                ):
                    found.append(f"{relative}:{call.lineno} in {function.name}()")
    return found


def test_no_query_is_built_from_values():
    assert offenders() == []


def test_the_check_catches_built_queries():
    sample = ast.parse("async def f(conn, name):\n    await conn.execute(f\"DELETE FROM t WHERE n = '{name}'\")\n")
    call = next(n for n in ast.walk(sample) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "execute")
    assert built_sql(call.args[0])
    assert not built_sql(ast.parse('"SELECT 1"', mode="eval").body)
