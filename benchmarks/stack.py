"""The service as it runs in production, as separate processes on loopback, for the soak and fault runs.

- `Postgres`: a disposable PostgreSQL of our own (pgserver's binaries, a temporary data folder, its own port),
  so a fault run may restart or crash it without disturbing a server anyone else uses.
- `Stack`: the WeChat sandbox (`python -m service sandbox`, Pay included), `python -m service migrate`, the API
  under granian (`python -m service serve`) and the job worker (`python -m service worker`). Each runs in its
  own process group, so `kill_api` and `kill_worker` are a real kill -9 of a server and its children; starting
  one again reuses its port and its log file (under benchmarks/out/, git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx

from benchmarks.processes import free_port, free_ports, kill, stop, tree_rss_kib
from service.settings import Settings
from service.wechat.sandbox.keys import DEV_KEYS_DIR, load_dev_keys

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
SECRET = "stack-secret-key-0123456789-0123456789-abcdef"
SETTING_VARIABLES = frozenset(name.upper() for name in Settings.__struct_fields__)


class Postgres:
    """A PostgreSQL server in a temporary folder on its own port; `restart` and `crash` are the faults."""

    def __init__(self) -> None:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR, which pgserver never uses here
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH
            from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        self.bin = POSTGRES_BIN_PATH
        self.root = Path(tempfile.mkdtemp(prefix="stack-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        # initdb refuses to run as root: run the server as pgserver's unprivileged user then.
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "pgserver"
            ensure_user_exists(self.user)
            # As pgserver does for its own server: the user must reach the binaries, wherever the venv lies
            # (a fresh clone under a 0700 temporary folder, before any pgserver server prepared them).
            ensure_prefix_permissions(self.bin)
            ensure_folder_permissions(self.bin, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
            ensure_folder_permissions(self.bin.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        try:
            # Output to files, not pipes: pg_ctl's server would keep a pipe open and hang the call.
            with open(self.root / "ctl.log", "a") as out:
                subprocess.run(
                    [str(self.bin / tool), *args], check=True, user=self.user, stdout=out, stderr=out, timeout=120
                )
        except subprocess.CalledProcessError:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{tail}") from None

    def start(self) -> Postgres:
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c max_connections=100"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, down_seconds: float = 0.0, mode: str = "fast") -> None:
        """Stop (fast: clean shutdown; immediate: like a crash, recovery on start), stay down, start again."""
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except RuntimeError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def wait_ready(url: str, timeout: float = 60.0, process: subprocess.Popen | None = None) -> float:
    """Seconds until GET url answers 200; raises when the process exits first or time runs out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} was not ready after {timeout:.0f} s")


class Stack:
    """The API, the worker and the WeChat sandbox as processes over one database (`dsn`)."""

    def __init__(self, dsn: str, name: str, logs: Path | None = None, instances: int = 1, **settings: object) -> None:
        self.dsn = dsn
        self.logs = logs or OUT / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        self.logs.mkdir(parents=True, exist_ok=True)
        *self.api_ports, self.sandbox_port, proxy_port = free_ports(instances + 2)
        self.api_port = self.api_ports[0]
        self.instance_urls = [f"http://127.0.0.1:{port}" for port in self.api_ports]  # each one, not the proxy
        # Several instances are reached as in production: through Caddy, which balances over them.
        self.proxy = Proxy(self.api_ports, self.logs, proxy_port) if instances > 1 else None
        self.api_url = self.proxy.url if self.proxy else self.instance_urls[0]
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        # The API and the sandbox share the Pay sandbox keys of one folder: create them once, before both; the
        # sandbox reads them there, the API and the worker get them through their settings.
        pay_keys = load_dev_keys(ROOT / DEV_KEYS_DIR)
        values: dict[str, object] = {
            "environment": "development",
            "database_url": dsn,
            "secret_key": SECRET,
            "host": "127.0.0.1",
            "port": self.api_port,
            "workers": 1,
            "public_base_url": self.api_url,  # where the Pay sandbox sends notifications
            "wechat_api_base": self.sandbox_url,
            "sandbox_port": self.sandbox_port,
            "access_log": False,
            "log_level": "WARNING",
            "login_rate_per_address": 1_000_000,  # every member logs in from 127.0.0.1
            # Behind Caddy, which checks /readyz every second: a stopping instance leaves its rotation first.
            "shutdown_drain_seconds": 2 if instances > 1 else 0,
            **pay_keys.settings_overrides(self.sandbox_url),
            **settings,
        }
        # Nothing of the caller's own settings leaks in: the run is the same on every machine.
        self.env = {k: v for k, v in os.environ.items() if k not in SETTING_VARIABLES}
        self.env.update({k.upper(): str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()})
        self.processes: dict[str, subprocess.Popen] = {}

    def _spawn(self, role: str, *args: str, **env: str) -> subprocess.Popen:
        log = open(self.logs / f"{role}.log", "ab")  # noqa: SIM115 - the child holds it; closed with the process
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "service", *args],
                cwd=ROOT,
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self.processes[role] = process
        return process

    def start(self) -> Stack:
        sandbox = self._spawn("sandbox", "sandbox")
        wait_ready(f"{self.sandbox_url}/sandbox/stats", process=sandbox)
        migrate = self._spawn("migrate", "migrate")
        if migrate.wait(timeout=120) != 0:
            raise RuntimeError(f"migrations failed: see {self.logs / 'migrate.log'}")
        for instance in range(len(self.api_ports)):
            self.start_api(instance)
        if self.proxy:
            self.proxy.start()
        self.start_worker()
        return self

    def start_api(self, instance: int = 0) -> float:
        """Start the API (one of its instances: roles api, api2, ...); the seconds it took to answer /readyz."""
        process = self._spawn(self.api_role(instance), "serve", PORT=str(self.api_ports[instance]))
        return wait_ready(f"{self.instance_urls[instance]}/readyz", process=process)

    @staticmethod
    def api_role(instance: int) -> str:
        return "api" if instance == 0 else f"api{instance + 1}"

    def start_worker(self) -> None:
        self._spawn("worker", "worker")

    def kill(self, role: str) -> None:
        kill(self.processes[role])

    def terminate(self, role: str) -> None:
        """SIGTERM the role's main process, as a deploy or a scale-down does (compose, Kubernetes)."""
        self.processes[role].send_signal(signal.SIGTERM)

    def wait(self, role: str, timeout: float) -> int:
        return self.processes[role].wait(timeout)

    def alive(self, role: str) -> bool:
        return self.processes[role].poll() is None

    def pid(self, role: str) -> int:
        return self.processes[role].pid

    def rss_mib(self, role: str) -> float:
        return tree_rss_kib(self.processes[role].pid) / 1024

    def close(self) -> None:
        if self.proxy:
            self.proxy.close()
        apis = [self.api_role(instance) for instance in range(len(self.api_ports))]
        # The API instances stop as a deploy stops them (SIGTERM to the main process: drain, then stop), all
        # at once; a signal to the whole group would stop the workers under their main process.
        signalled = [role for role in apis if role in self.processes and self.alive(role)]
        for role in signalled:
            self.terminate(role)
        for role in signalled:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.wait(role, 15)
        for role in ("worker", *apis, "sandbox"):
            if role in self.processes and self.alive(role):
                stop(self.processes[role])


class Proxy:
    """Caddy (Debian's package) before the API instances, configured by infra/Caddyfile itself: the same body
    limit, balancing and retries, with the instances' loopback ports in place of compose's DNS lookup."""

    def __init__(self, upstreams: list[int], logs: Path, port: int) -> None:
        self.upstreams = upstreams
        self.logs = logs
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def config(self) -> str:
        production = (ROOT / "infra" / "Caddyfile").read_text()
        site, replaced = re.subn(r"^:80 \{", f"http://127.0.0.1:{self.port} {{", production, flags=re.M)
        site, balanced = re.subn(
            r"dynamic a \{.*?\n\t\t\}",
            # Each answer names the instance that gave it (tests check the balancing).
            "to "
            + " ".join(f"127.0.0.1:{p}" for p in self.upstreams)
            + "\n\t\theader_down X-Upstream {http.reverse_proxy.upstream.hostport}",
            site,
            flags=re.S,
        )
        if (replaced, balanced) != (1, 1):
            raise RuntimeError("infra/Caddyfile no longer has the `:80` site and `dynamic a` upstreams this expects")
        # No admin endpoint (port 2019 would clash between stacks), no certificates on loopback, and loopback only:
        # a site address does not bind Caddy to its host, and on every interface it would share the port with
        # whatever holds it on loopback (which then takes every connection to 127.0.0.1).
        return "{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}\n\n" + site

    def start(self) -> None:
        caddy = shutil.which("caddy")
        if caddy is None:
            raise RuntimeError("caddy is required (Debian's package `caddy`; `make test` installs it)")
        config = self.logs / "Caddyfile"
        config.write_text(self.config())
        with open(self.logs / "caddy.log", "ab") as log:
            self.process = subprocess.Popen(
                [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "HOME": str(self.logs), "XDG_DATA_HOME": str(self.logs)},
            )
        wait_ready(f"{self.url}/readyz", process=self.process)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop(self.process)
