"""An embedded PostgreSQL for `make run` and `make test` when DATABASE_URL is unset.

pgserver ships real PostgreSQL binaries in a wheel. Data lives in a git-ignored folder and is reused
across runs; the server stops when the process that started it exits.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("service.embedded")

DEFAULT_DIR = Path(".data/pg")


def start(data_dir: Path = DEFAULT_DIR, *, keep: bool = True) -> str:
    """Start (or attach to) the embedded server and return its DSN. Without `keep`, the data goes with the last
    process that holds the server (a throwaway cluster, in memory for the tests)."""
    import pgserver  # imported here: production never needs it

    data_dir = data_dir.resolve()
    # pgserver creates the folder outside its own inter-process lock, so two instances starting at
    # once race on it; creating it here first leaves initdb and start-up to its lock.
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop" if keep else "delete")
    log.info("embedded postgresql ready", extra={"dataDir": str(data_dir)})
    # Hold the handle for the life of the process; pgserver stops the server at exit.
    _servers.append(server)
    return server.get_uri()


_servers: list[object] = []
