"""`python -m service sandbox`, and `python -m service run` starting the sandbox beside the API."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from benchmarks.processes import free_port, free_ports
from tests.support import ROOT, TEST_SECRET, http_client
from tests.wechat_support import bearer, login


def child_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHAT_") and k != "DATABASE_URL"}
    env.update(values, LOG_LEVEL="WARNING", SECRET_KEY=TEST_SECRET)
    return env


async def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    async with http_client(timeout=1) as http:
        while True:
            assert process.poll() is None, "the process exited during start-up"
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{url} did not come up"
            await asyncio.sleep(0.1)


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


async def test_sandbox_command_serves_on_the_configured_port():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "sandbox"], cwd=ROOT, env=child_env(SANDBOX_PORT=str(port))
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_until_up(f"{url}/sandbox/stats", process)
        async with http_client(base_url=url) as http:
            answer = (await http.post("/sandbox/wx-login", json={"user": "alice"})).json()
            query = {
                "appid": "wxsandbox0000000001",
                "secret": "sandbox-secret-not-for-production",
                "js_code": answer["code"],
                "grant_type": "authorization_code",
            }
            session = (await http.get("/sns/jscode2session", params=query)).json()
        assert session["openid"] == answer["openid"]
    finally:
        stop(process)


def test_sandbox_command_refuses_production():
    env = child_env(ENVIRONMENT="production", DATABASE_URL="postgresql://x/y", WECHAT_APPID="wx1", WECHAT_SECRET="s")
    result = subprocess.run(
        [sys.executable, "-m", "service", "sandbox"], cwd=ROOT, env=env, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 2 and b"sandbox" in result.stderr


async def test_run_starts_the_sandbox_beside_the_api_and_stops_it(database_url):
    api_port, sandbox_port = free_ports(2)
    env = child_env(DATABASE_URL=database_url, PORT=str(api_port), SANDBOX_PORT=str(sandbox_port))
    process = subprocess.Popen([sys.executable, "-m", "service", "run"], cwd=ROOT, env=env)
    api_url, sandbox_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{sandbox_port}"
    try:
        await wait_until_up(f"{api_url}/healthz", process)
        async with http_client(base_url=api_url, timeout=10) as api:
            tokens = await login(api, sandbox_url, "alice")
            assert (await api.get("/v1/me", headers=bearer(tokens))).status_code == 200
    finally:
        stop(process)
    # The sandbox goes away with the API: stopped by `run`, or (when `run` had to be killed on a loaded machine)
    # by the SIGTERM its parent's death sends it, a moment later.
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", sandbox_port)) != 0:
                break
        assert time.monotonic() < deadline, "the sandbox outlived `run`"
        await asyncio.sleep(0.1)
