"""`make run` installs only what serving needs: the service imports nothing from the test tools."""

from __future__ import annotations

import ast
import re
import tomllib

from tests.support import ROOT

# Import names of dev-only distributions whose names differ from their distribution names.
IMPORT_NAMES = {"pytest-asyncio": "pytest_asyncio", "pytest-xdist": "xdist", "import-linter": "importlinter"}


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower()


def test_make_run_installs_the_package_without_its_dev_extra():
    makefile = (ROOT / "Makefile").read_text()
    run = re.search(r"^run: (.+)$", makefile, re.M).group(1)
    recipe = re.search(rf"^{re.escape(run.strip())}:.*?\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "pip install --progress-bar on -e ." in recipe and "[dev]" not in recipe


def test_the_service_imports_nothing_only_the_dev_extra_installs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    serving = {requirement_name(r) for r in project["dependencies"]}
    dev_only = {requirement_name(r) for r in project["optional-dependencies"]["dev"]} - serving
    forbidden = {IMPORT_NAMES.get(name, name.replace("-", "_")) for name in dev_only}
    assert {"pytest", "playwright", "ruff"} <= forbidden
    imported = set()
    for path in (ROOT / "service").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {(alias.name.split(".")[0], path) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add((node.module.split(".")[0], path))
    offending = sorted((name, str(path.relative_to(ROOT))) for name, path in imported if name in forbidden)
    assert offending == [], offending
