"""Command line: python -m service [run|serve|migrate|worker|openapi]."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from pathlib import Path

from service.logs import configure_logging, logging_config
from service.settings import Settings, SettingsError, load_settings

log = logging.getLogger("service.cli")
DATA_DIR = Path(".data")


def _dev_settings() -> Settings:
    """Settings for a developer machine: an embedded database and a persisted dev secret when unset."""
    settings = load_settings()
    overrides: dict[str, object] = {}
    if not settings.database_url:
        if settings.environment == "production":
            raise SettingsError("DATABASE_URL is required when ENVIRONMENT=production")
        from service.db import embedded

        overrides["database_url"] = embedded.start(DATA_DIR / "pg")
    if not settings.secret_key:
        key_file = DATA_DIR / "dev-secret-key"
        if not key_file.exists():
            DATA_DIR.mkdir(exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        overrides["secret_key"] = key_file.read_text().strip()
    # Worker processes of the ASGI server read their settings from the environment.
    for name, value in overrides.items():
        os.environ[name.upper()] = str(value)
    return load_settings()


async def _migrate(settings: Settings) -> None:
    from service.db import migrate as migrations
    from service.db.pool import connect

    conn = await connect(settings.database_url)
    try:
        applied = await migrations.migrate(conn)
        log.info("migrations current", extra={"applied": [f"{m.version:04d}_{m.name}" for m in applied]})
    finally:
        await conn.close()


def _serve(settings: Settings) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    log.info("serving", extra={"url": f"http://{settings.host}:{settings.port}", "workers": settings.workers})
    Granian(
        "service.app:app_from_env",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        loop=Loops.uvloop,
        log_dictconfig=logging_config(settings.log_level, settings.log_format),
    ).serve()


def _export_openapi(path: Path) -> None:
    from service.app import create_app, openapi_document

    settings = load_settings(
        database_url="postgresql://unused/unused",
        secret_key="x" * 32,
        public_base_url="http://127.0.0.1:8000",
    )
    path.write_text(openapi_document(create_app(settings)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="development: embedded database when DATABASE_URL is unset, migrate, serve")
    sub.add_parser("serve", help="serve the API (refuses while migrations are pending)")
    sub.add_parser("migrate", help="apply pending migrations")
    worker = sub.add_parser("worker", help="run background jobs until SIGTERM (any number of workers may run)")
    worker.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="also import MODULE to register its job kinds (repeatable)",
    )
    export = sub.add_parser("openapi", help="write the OpenAPI document")
    export.add_argument("path", type=Path, nargs="?", default=Path("openapi/openapi.json"))
    args = parser.parse_args(argv)

    try:
        if args.command == "openapi":
            _export_openapi(args.path)
            return 0
        settings = _dev_settings() if args.command == "run" else load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)

    if not settings.database_url:
        print("configuration error: DATABASE_URL is required (or use `python -m service run`)", file=sys.stderr)
        return 2
    if args.command in ("run", "migrate"):
        asyncio.run(_migrate(settings))
    if args.command in ("run", "serve"):
        _serve(settings)
    if args.command == "worker":
        from service.jobs.worker import run_worker

        _run_async(run_worker(settings, args.imports))
    return 0


def _run_async(main) -> None:
    try:
        import uvloop

        uvloop.run(main)
    except ImportError:
        asyncio.run(main)


if __name__ == "__main__":
    sys.exit(main())
