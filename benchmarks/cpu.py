"""Where the CPU goes during a measurement: CPU seconds per process group, read from /proc before and after.

Groups are process trees (an API instance and its granian worker, Caddy, the benchmark's own process with wrk
or its socket readers) and the PostgreSQL backends of the benchmark's database (named in their command line);
what is left is the rest of the machine (other sessions' suites on a shared machine). A process that exits
within the window counts only if it is a child of this one that was waited for (wrk): os.times() has those.
"""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, CPU ticks used, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), command)
    return found


def backend_cpu_seconds(pid: int) -> float:
    """CPU seconds a process (a PostgreSQL backend on this machine) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _machine_ticks() -> tuple[int, int]:
    """(busy, all) ticks of every core since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuAccount:
    """``with CpuAccount({"caddy": [pid], ...}, database="bench_x") as cpu: ...`` then ``cpu.seconds``."""

    def __init__(self, roots: dict[str, list[int]], database: str | None = None) -> None:
        self.roots = {pid: label for label, pids in roots.items() for pid in pids}
        self.database = database
        self.seconds: dict[str, float] = {}
        self.wall = 0.0
        self.busy_cores = 0.0

    def _label(self, pid: int, table: dict[int, tuple[int, int, str]]) -> str:
        seen, at = 0, pid
        while at in table and seen < 50:
            if at in self.roots:
                return self.roots[at]
            at, seen = table[at][0], seen + 1
        command = table[pid][2]
        if command.startswith("postgres"):
            if self.database and f" {self.database} " in command:
                return "postgres (this database)"
            return "postgres (other databases)"
        return "rest of the machine"

    def __enter__(self) -> CpuAccount:
        self.before = _processes()
        self.machine = _machine_ticks()
        self.started = os.times()
        return self

    def __exit__(self, *_: object) -> None:
        after = _processes()
        busy, total = _machine_ticks()
        now = os.times()
        self.wall = now.elapsed - self.started.elapsed
        children = (now.children_user + now.children_system) - (
            self.started.children_user + self.started.children_system
        )
        cores = os.cpu_count() or 1
        self.busy_cores = (busy - self.machine[0]) / max(total - self.machine[1], 1) * cores
        seconds: dict[str, float] = {}
        for pid, (_, ticks, _) in after.items():
            used = ticks - self.before[pid][1] if pid in self.before else ticks
            if used > 0:
                label = self._label(pid, after)
                seconds[label] = seconds.get(label, 0.0) + used / TICKS
        if children > 0:
            label = f"{self.roots.get(os.getpid(), 'this process')}: children that ended"
            seconds[label] = seconds.get(label, 0.0) + children
        self.seconds = dict(sorted(seconds.items(), key=lambda item: -item[1]))

    def table(self, per: int = 0, unit: str = "") -> str:
        """A markdown table: CPU seconds per group, share of the machine, and per ``unit`` when ``per``."""
        cores = os.cpu_count() or 1
        head = f"| process group | CPU s | cores busy (of {cores}) |" + (f" CPU ms per {unit} |" if per else "")
        lines = [head, "|---|---:|---:|" + ("---:|" if per else "")]
        for label, used in self.seconds.items():
            row = f"| {label} | {used:.2f} | {used / max(self.wall, 1e-9):.2f} |"
            lines.append(row + (f" {used * 1000 / per:.3f} |" if per else ""))
        lines.append(f"| (all, from /proc/stat) | | {self.busy_cores:.2f} |" + (" |" if per else ""))
        return "\n".join(lines)
