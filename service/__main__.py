"""Command line: python -m service [run|serve|migrate|distribute|worker|sandbox|openapi]."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from service.logs import configure_logging, logging_config
from service.settings import Settings, SettingsError, load_settings

log = logging.getLogger("service.cli")
DATA_DIR = Path(".data")


def _dev_settings() -> Settings:
    """Settings for a developer machine: an embedded database, a persisted dev secret, the WeChat sandbox (its
    fixed credentials) when no WeChat credentials are set, and the Pay sandbox's keys when no merchant is."""
    from service.wechat.sandbox.keys import load_dev_keys, pay_sandbox_settings

    settings = load_settings()
    overrides: dict[str, object] = {}
    if "PUBLIC_BASE_URL" not in os.environ:
        # Pay notifications and signed URLs point at this server: follow PORT unless told otherwise.
        overrides["public_base_url"] = f"http://127.0.0.1:{settings.port}"
    if "SANDBOX_HOST" not in os.environ and settings.host != "127.0.0.1":
        # Listening on the LAN for DevTools or a phone: so does the sandbox they ask for codes and payments.
        overrides["sandbox_host"] = settings.host
    if _wants_sandbox(settings):
        overrides["wechat_api_base"] = f"http://127.0.0.1:{settings.sandbox_port}"
    # No merchant: the Pay sandbox's development keys, which the sandbox process loads too (.data/pay-sandbox).
    overrides.update(pay_sandbox_settings(settings, load_dev_keys))
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


async def _distribute(settings: Settings) -> int:
    from service.db.citus import DistributeError, distribute
    from service.db.pool import connect

    conn = await connect(settings.database_url)
    try:
        outcome = await distribute(conn)
    except DistributeError as exc:
        print(f"distribute: {exc}", file=sys.stderr)
        return 1
    finally:
        await conn.close()
    log.info(
        "tables in place",
        extra={
            **outcome.counts,
            "placedNow": len(outcome.placed),
            "keysWidened": outcome.keys_widened,
            "foreignKeysWidened": outcome.foreign_keys_widened,
            "foreignKeysDropped": outcome.foreign_keys_dropped,
        },
    )
    return 0


async def _rebuild_metrics(settings: Settings) -> None:
    from service.db.pool import connect
    from service.interactions.logic import rebuild

    conn = await connect(settings.database_url)
    try:
        days = await rebuild(conn, settings)
        log.info("metrics rebuilt", extra={"communityDays": days})
    finally:
        await conn.close()


def _wants_sandbox(settings: Settings) -> bool:
    # An explicit WECHAT_API_BASE means the developer runs their own WeChat stand-in: leave it alone.
    return (
        settings.uses_wechat_sandbox and settings.environment != "production" and not os.environ.get("WECHAT_API_BASE")
    )


def _sandbox_url(settings: Settings) -> str:
    return f"http://{_local(settings.sandbox_host)}:{settings.sandbox_port}"


def _local(host: str) -> str:
    """Where this machine reaches a server listening on ``host``."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - compared, not bound


def start_up_warnings(settings: Settings) -> list[str]:
    """Settings that send traffic somewhere a developer may not expect, said once at start-up."""
    warnings = []
    if os.environ.get("WECHAT_API_BASE"):
        warnings.append(
            f"WECHAT_API_BASE is set: WeChat calls go to {settings.wechat_api_base} and the built-in sandbox "
            "is not started"
        )
    public = urllib.parse.urlsplit(settings.public_base_url)
    if "PUBLIC_BASE_URL" in os.environ and (public.port or {"https": 443}.get(public.scheme, 80)) != settings.port:
        warnings.append(
            f"PUBLIC_BASE_URL {settings.public_base_url} is not on PORT {settings.port}: WeChat Pay notifications "
            "and signed URLs go there (fine behind a proxy that forwards it here)"
        )
    return warnings


def lan_address() -> str | None:
    """This machine's address on its network, for a phone or WeChat DevTools (no packet is sent)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))
        return probe.getsockname()[0]
    return None


def banner(settings: Settings, sandbox: bool) -> str:
    api = f"http://{_local(settings.host)}:{settings.port}"
    lines = ["", "社区服务已就绪 / the API is ready", f"  API       {api}", f"  Docs      {api}/schema"]
    if sandbox:
        lines.append(f"  Sandbox   {_sandbox_url(settings)}   (WeChat and WeChat Pay stand-in: docs/devtools.md)")
    if settings.host in ("0.0.0.0", "::") and (lan := lan_address()):  # noqa: S104 - compared, not bound
        lines.append(f"  LAN       http://{lan}:{settings.port}   (for WeChat DevTools or a phone)")
    lines.append("  Ctrl-C stops it.")
    return "\n".join(lines) + "\n"


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/healthz", timeout=0.5):  # noqa: S310 - our own URL
                return True
        time.sleep(0.2)
    return False


def _sandbox_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/sandbox/stats", timeout=0.5) as answer:  # noqa: S310 - our own URL
            return answer.status == 200
    except OSError:
        return False


def start_sandbox(settings: Settings, timeout: float = 15.0) -> subprocess.Popen | None:
    """Start `python -m service sandbox` beside the API; None when one already answers on its port."""
    url = _sandbox_url(settings)
    if _sandbox_answers(url):
        log.info("using the WeChat sandbox already running", extra={"url": url})
        return None
    process = _child("sandbox")
    deadline = time.monotonic() + timeout
    while not _sandbox_answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"the WeChat sandbox did not start on {url} (is the port taken? set SANDBOX_PORT)")
        time.sleep(0.1)
    log.info("WeChat sandbox started", extra={"url": url, "appid": settings.sandbox_appid})
    return process


def _die_with_parent() -> None:
    # Runs in the child before exec: Linux sends it SIGTERM when `run` dies, even by SIGKILL, so a killed
    # `make run` leaves no server, worker or sandbox holding its ports.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _child(command: str) -> subprocess.Popen:
    """`python -m service <command>` beside `run`, with its settings (the environment) and its fate."""
    return subprocess.Popen(
        [sys.executable, "-m", "service", command], env=os.environ.copy(), preexec_fn=_die_with_parent
    )


def stop_process(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _granian(target: str, host: str, port: int, workers: int, settings: Settings, drain: float = 0.0) -> None:
    from granian.constants import Interfaces, Loops

    from service.serving import DrainingGranian, raise_open_file_limit

    raise_open_file_limit()  # the workers inherit it
    DrainingGranian(
        target,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        log_dictconfig=logging_config(settings.log_level, settings.log_format),
        drain_seconds=drain,
    ).serve()


def _run_beside(settings: Settings, with_sandbox: bool) -> None:
    """`run`: the API with a job worker (payments reconcile, metrics roll up) and the sandbox beside it, until
    Ctrl-C, SIGINT or SIGTERM, which stop the children in order. SIGINT is taken even when whoever started
    `run` had it ignored (a shell's background job does): that is how the tests and scripts stop it."""
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, signal.default_int_handler)
    sandbox = worker = server = None
    try:
        sandbox = start_sandbox(settings) if with_sandbox else None
        worker = _child("worker")
        server = _child("serve")
        if _wait_ready(f"http://{_local(settings.host)}:{settings.port}", server):
            print(banner(settings, sandbox=with_sandbox), flush=True)
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for process in (server, worker, sandbox):
            stop_process(process)


def _serve_sandbox(settings: Settings) -> None:
    log.info("serving the WeChat sandbox", extra={"url": _sandbox_url(settings), "appid": settings.sandbox_appid})
    # One worker: the sandbox's state lives in memory.
    _granian("service.wechat.sandbox.app:app_from_env", settings.sandbox_host, settings.sandbox_port, 1, settings)


def _serve(settings: Settings) -> None:
    log.info("serving", extra={"url": f"http://{settings.host}:{settings.port}", "workers": settings.workers})
    drain = settings.shutdown_drain_seconds
    _granian("service.app:app_from_env", settings.host, settings.port, settings.workers, settings, drain)


def _export_openapi(folder: Path, errors_doc: Path | None) -> None:
    from service.app import create_app
    from service.core.domain import problem_table
    from service.domains import DOMAINS
    from service.openapi import document_json, document_yaml

    settings = load_settings(
        database_url="postgresql://unused/unused",
        secret_key="x" * 32,
        public_base_url="http://127.0.0.1:8000",
    )
    app = create_app(settings)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "openapi.json").write_text(document_json(app))
    (folder / "openapi.yaml").write_text(document_yaml(app))
    if errors_doc is not None:
        errors_doc.write_text(problem_table(DOMAINS).markdown())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="development: embedded database when DATABASE_URL is unset, migrate, serve")
    sub.add_parser("serve", help="serve the API (refuses while migrations are pending)")
    sub.add_parser("migrate", help="apply pending migrations")
    sub.add_parser("distribute", help="on a Citus coordinator: place every table as service/db/citus.sql says")
    sub.add_parser("worker", help="run background jobs until SIGTERM (any number of workers may run)")
    sub.add_parser(
        "rebuild-metrics",
        help="recompute the metrics roll-ups from the raw events (gives what the worker built); days whose events "
        "retention dropped keep theirs",
    )
    sub.add_parser("sandbox", help="serve the WeChat sandbox on SANDBOX_HOST:SANDBOX_PORT")
    export = sub.add_parser("openapi", help="write openapi.json and openapi.yaml into a folder, and docs/errors.md")
    export.add_argument("folder", type=Path, nargs="?", default=Path("openapi"))
    export.add_argument("--errors", type=Path, default=Path("docs/errors.md"), help="the problem-code table")
    args = parser.parse_args(argv)

    try:
        if args.command == "openapi":
            _export_openapi(args.folder, args.errors)
            return 0
        # Decided before _dev_settings() points WECHAT_API_BASE at the sandbox it will start.
        with_sandbox = args.command == "run" and _wants_sandbox(load_settings())
        warnings = start_up_warnings(load_settings()) if args.command == "run" else []
        settings = _dev_settings() if args.command == "run" else load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    for warning in warnings:
        log.warning(warning)

    if args.command == "sandbox":
        if settings.environment == "production":
            print("configuration error: the WeChat sandbox does not run with ENVIRONMENT=production", file=sys.stderr)
            return 2
        _serve_sandbox(settings)
        return 0
    if not settings.database_url:
        print("configuration error: DATABASE_URL is required (or use `python -m service run`)", file=sys.stderr)
        return 2
    if args.command in ("run", "migrate"):
        asyncio.run(_migrate(settings))
    if args.command == "distribute":
        return asyncio.run(_distribute(settings))
    if args.command == "rebuild-metrics":
        asyncio.run(_rebuild_metrics(settings))
    if args.command == "serve":
        _serve(settings)
    if args.command == "run":
        _run_beside(settings, with_sandbox)
    if args.command == "worker":
        from service.worker import run_worker

        _run_async(run_worker(settings))
    return 0


def _run_async(main) -> None:
    try:
        import uvloop

        uvloop.run(main)
    except ImportError:
        asyncio.run(main)


if __name__ == "__main__":
    sys.exit(main())
