"""`python -m service run` end to end: embedded PostgreSQL, migrate, serve; restart reuses the data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.processes import free_ports


@pytest.fixture
def workdir(tmp_path):
    """The folder a run works in. The embedded PostgreSQL outlives `run` by design (the next run attaches to
    it) and a killed run cannot stop it: stopped here, so the suite leaves no server behind."""
    yield tmp_path
    stop_embedded(tmp_path / ".data" / "pg")


def stop_embedded(data: Path) -> None:
    import psutil  # installed with pgserver

    pid_file = data / "postmaster.pid"
    if not pid_file.exists():
        return
    try:
        server = psutil.Process(int(pid_file.read_text().split()[0]))
        if str(data) in " ".join(server.cmdline()):  # not a recycled pid
            server.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
            server.wait(timeout=30)
    except psutil.NoSuchProcess:
        pass
    assert not any(str(data) in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"]))


def start(workdir, port: int, sandbox_port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    # A sandbox of its own: one a developer (or another test) runs on the default port would be reused.
    env.update(PORT=str(port), SANDBOX_PORT=str(sandbox_port), LOG_FORMAT="json")
    return subprocess.Popen(
        [sys.executable, "-m", "service", "run"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As a shell starts a background job (`make run &`, a CI step's helper): SIGINT ignored. `stop` still
        # stops it with SIGINT; it once ignored that and ran on until the test's timeout.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )


def wait_ready(port: int, proc: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


def stop(proc: subprocess.Popen) -> list[dict]:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def applied(lines: list[dict]) -> list[str]:
    return next(line["applied"] for line in lines if line.get("message") == "migrations current")


@pytest.mark.slow
def test_run_twice_at_once_then_again_reuses_the_embedded_database(workdir):
    picked = free_ports(4)
    ports, sandbox_ports = picked[:2], picked[2:]
    procs = [start(workdir, port, sandbox) for port, sandbox in zip(ports, sandbox_ports, strict=True)]
    try:
        for port, proc in zip(ports, procs, strict=True):
            assert wait_ready(port, proc)["status"] == "ready"
    finally:
        outputs = [stop(proc) for proc in procs]
    # Both instances migrated the same database at once: exactly one applied the migrations.
    assert sorted(len(applied(lines)) for lines in outputs)[0] == 0
    assert sum(len(applied(lines)) for lines in outputs) >= 1
    assert (workdir / ".data" / "pg" / "PG_VERSION").exists()

    port, sandbox_port = free_ports(2)
    proc = start(workdir, port, sandbox_port)
    try:
        wait_ready(port, proc)
    finally:
        lines = stop(proc)
    assert applied(lines) == []  # same data folder, nothing left to apply


@pytest.mark.slow
def test_killed_run_leaves_no_orphans_and_the_next_run_reuses_the_database(workdir):
    import psutil  # installed with pgserver

    port, sandbox_port = free_ports(2)
    proc = start(workdir, port, sandbox_port)
    try:
        wait_ready(port, proc)
        spec = httpx.get(f"http://127.0.0.1:{port}/schema/openapi.json", timeout=5)
        assert spec.status_code == 200 and spec.json()["info"]["title"]
        # The server (and its worker processes), the job worker and the sandbox; the embedded PostgreSQL is
        # not a child: it outlives `run` and the next run attaches to it.
        children = psutil.Process(proc.pid).children(recursive=True)
        assert {tuple(p.cmdline()[-2:]) for p in children} >= {("service", c) for c in ("serve", "worker", "sandbox")}
        proc.kill()
        proc.wait(timeout=10)
        _, alive = psutil.wait_procs(children, timeout=15)
        assert alive == [], [p.cmdline() for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()

    port, sandbox_port = free_ports(2)
    proc = start(workdir, port, sandbox_port)
    try:
        assert wait_ready(port, proc)["status"] == "ready"
    finally:
        lines = stop(proc)
    assert applied(lines) == []  # the killed run's database, reused as it was
