"""PostgreSQL going away and coming back (a restart, a failover): the API answers 503 with Retry-After meanwhile,
never 500, and the same API process and job worker carry on by themselves once it is back."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys

import asyncpg
import pytest
from litestar import get
from litestar.params import FromPath

from service.settings import Settings
from tests.factories import create_user
from tests.support import ROOT, DatabaseGate, api_client, make_settings


async def wait_for_status(client, path: str, status: int, headers: dict | None = None, timeout: float = 10.0):
    async with asyncio.timeout(timeout):
        while (response := await client.get(path, headers=headers)).status_code != status:
            await asyncio.sleep(0.05)
    return response


async def test_the_api_answers_503_while_the_database_is_away_then_recovers_by_itself(database_url, settings, caplog):
    user = await create_user(database_url, settings)
    async with DatabaseGate(database_url) as gate:
        async with api_client(make_settings(gate.url, wechat_api_base=settings.wechat_api_base)) as client:
            assert (await client.get("/v1/me", headers=user.headers)).status_code == 200
            await gate.close()
            with caplog.at_level(logging.WARNING, logger="service.errors"):
                away = await client.get("/v1/me", headers=user.headers)
            assert away.status_code == 503, away.text
            assert away.json()["code"] == "not_ready" and away.headers["retry-after"] == "2"
            assert (await client.get("/readyz")).status_code == 503
            assert [r.message for r in caplog.records if r.name == "service.errors"] == ["database unavailable"]
            await gate.open()
            # The same app, not restarted: the pool makes new connections once the server answers again.
            me = await wait_for_status(client, "/v1/me", 200, user.headers)
            assert me.json()["id"] == str(user.id)
            assert (await client.get("/readyz")).status_code == 200


def worker_environment(settings: Settings, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in {f.upper() for f in Settings.__struct_fields__}}
    env.update(DATABASE_URL=database_url, SECRET_KEY=settings.secret_key, ENVIRONMENT="test", JOBS_POLL_INTERVAL="0.1")
    return env


async def test_a_worker_started_while_the_database_is_away_waits_for_it(database_url, settings):
    async with DatabaseGate(database_url) as gate:
        await gate.close()
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "service",
            "worker",
            cwd=ROOT,
            env=worker_environment(settings, gate.url),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.sleep(2.0)
            assert worker.returncode is None, "the worker exited instead of waiting for the database"
            await gate.open()
            conn = await asyncpg.connect(database_url)
            try:
                # It connects, seeds its periodic jobs and works them.
                async with asyncio.timeout(20):
                    while not await conn.fetchval("SELECT count(*) FROM jobs WHERE updated_at > created_at"):
                        await asyncio.sleep(0.1)
            finally:
                await conn.close()
            worker.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                assert await worker.wait() == 0
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()


def _interface_error_on_a_dead_connection() -> Exception:
    try:
        try:
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        except asyncpg.ConnectionDoesNotExistError:
            # Chained implicitly, as when asyncpg's Transaction.__aexit__ finds the connection gone.
            raise asyncpg.InterfaceError("cannot call Transaction.__aexit__(): the connection is closed")  # noqa: B904
    except asyncpg.InterfaceError as exc:
        return exc


DATABASE_AWAY = {
    "refused": ConnectionRefusedError(111, "Connection refused"),
    "unreachable": OSError(113, "No route to host"),
    "unresolvable": socket.gaierror(-2, "Name or service not known"),
    "starting": asyncpg.CannotConnectNowError("the database system is starting up"),
    "terminated": asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    "mid_operation": asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    "cleanup_after": _interface_error_on_a_dead_connection(),
    "asyncpg_1069": asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
}
BUGS = {
    "misuse": asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    "bad_query": asyncpg.UndefinedColumnError("column x does not exist"),
    "missing_file": FileNotFoundError(2, "No such file or directory"),
}


@get("/test/raise/{name:str}", sync_to_thread=False)
def raise_named(name: FromPath[str]) -> None:
    raise {**DATABASE_AWAY, **BUGS}[name]


@pytest.mark.parametrize(
    ("name", "status"),
    [(name, 503) for name in DATABASE_AWAY] + [(name, 500) for name in BUGS],
)
async def test_errors_of_a_database_going_away_answer_503_others_500(settings, name, status):
    async with api_client(settings, extra_routes=[raise_named]) as client:
        response = await client.get(f"/test/raise/{name}")
    assert response.status_code == status, response.text
    assert response.json()["code"] == ("not_ready" if status == 503 else "internal_error")


async def test_a_connection_lost_mid_request_counts_as_the_database_being_away(database_url):
    """asyncpg closes a connection whose server went away (and hands it back to the pool); the request's next
    query then fails with an interface error, which must answer 503 like the connection error before it."""
    from service.db.pool import caused_by_unavailable

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            killer = await asyncpg.connect(database_url)
            await killer.execute("SELECT pg_terminate_backend($1)", pid)
            await killer.close()
            raised = []
            for _ in range(2):
                try:
                    await conn.fetchval("SELECT 1")
                except Exception as exc:  # noqa: BLE001 - what asyncpg raises is the point
                    raised.append(exc)
            assert len(raised) == 2 and all(caused_by_unavailable(exc) for exc in raised), raised
            # Which one depends on the server and asyncpg's timing: "released back to the pool" or "connection is
            # closed" (the embedded PostgreSQL 16).
            assert isinstance(raised[1], asyncpg.InterfaceError), raised
    finally:
        await pool.close()
