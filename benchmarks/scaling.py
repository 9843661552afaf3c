"""`python -m benchmarks --instances N`: req/s through Caddy (infra/Caddyfile) with one granian instance, then
with N, on the same database and the same cores, and where the CPU went meanwhile (benchmarks/cpu.py)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks.cpu import CpuAccount
from benchmarks.processes import free_port, stop
from benchmarks.stack import Proxy

NAMES = ["baseline", "me", "feed_latest"]
PROFILED = "feed_latest"


def scaling(dsn: str, requests: dict, args, start_server: Callable, run_wrk: Callable) -> None:
    rates: dict[int, dict[str, float]] = {}
    profiles: dict[int, tuple[CpuAccount, int]] = {}
    logs = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    database = dsn.rsplit("/", 1)[1]
    for count in (1, args.instances):
        servers = [start_server("granian", dsn, {}) for _ in range(count)]
        proxy = Proxy([int(url.rsplit(":", 1)[1]) for _, url in servers], logs, free_port())  # the servers hold theirs
        try:
            proxy.start()
            groups = {f"API instance {n + 1}": [proc.pid] for n, (proc, _) in enumerate(servers)}
            groups.update({"caddy": [proxy.process.pid], "the benchmark (wrk)": [os.getpid()]})
            for name in NAMES:
                run_wrk(proxy.url, requests[name], 2, args.connections)
                with CpuAccount(groups, database) as cpu:
                    result = run_wrk(proxy.url, requests[name], args.duration, args.connections)
                rates.setdefault(count, {})[name] = result["rps"]
                if name == PROFILED:
                    profiles[count] = (cpu, result["requests"])
                print(f"  caddy -> {count} x granian {name:16} {result['rps']:9.0f} req/s", file=sys.stderr)
        finally:
            proxy.close()
            for proc, _ in servers:
                stop(proc)
    n = args.instances
    print(f"\n| through Caddy | req/s, 1 instance | req/s, {n} instances | scaling | goal |\n|---|---:|---:|---:|---|")
    for name in NAMES:
        print(
            f"| {name} | {rates[1][name]:.0f} | {rates[n][name]:.0f} | {rates[n][name] / rates[1][name]:.2f} | >= 1.7 |"
        )
    for count, (cpu, served) in profiles.items():
        print(f"\nCPU during {PROFILED} through Caddy, {count} instance(s), {served:,} requests in {cpu.wall:.1f} s:\n")
        print(cpu.table(served, "request"))
