"""Process helpers shared by the benchmarks, the soak and the fault runs."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports free now, below the kernel's ephemeral range.

    A port the kernel hands out for bind(0) is ephemeral: any outgoing connection may take it before our server
    binds it (CI once lost a test PostgreSQL's port to one). Below the range only another picker competes, so the
    pick is random, and each socket stays bound until all are picked (one at a time, the same port could come twice).
    """
    highest = _ephemeral_low() - 1
    with contextlib.ExitStack() as held:
        ports: list[int] = []
        while len(ports) < count:
            sock = held.enter_context(socket.socket())
            # A machine whose ephemeral range starts low leaves no room: the kernel's pick then.
            port = random.randint(_LOWEST_PICK, highest) if highest > _LOWEST_PICK + 1000 else 0
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            ports.append(sock.getsockname()[1])
        return ports


_LOWEST_PICK = 20000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def process_tree(pid: int) -> list[int]:
    """A process and its direct children (an ASGI server's workers)."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                pids.append(int(entry.name))
    return pids


def tree_rss_kib(pid: int, field: str = "VmRSS") -> int:
    """Sum of a /proc status memory field over a process and its children: VmRSS now, VmHWM the peak."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def tree_peak_rss_kib(pid: int) -> int:
    """Sum of the peak resident set (VmHWM) of a process and its children."""
    return tree_rss_kib(pid, "VmHWM")


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM the process group started with start_new_session, SIGKILL it if it lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        kill(proc)


def kill(proc: subprocess.Popen) -> None:
    """kill -9 the whole process group (a server and its workers), as a crash would."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def established(port: int) -> int:
    """TCP connections established to a local listening port (/proc/net/tcp{,6}: its server's open sockets)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count
