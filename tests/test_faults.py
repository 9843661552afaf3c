"""The fault run, short, inside `make test`: the service as processes (API, worker, WeChat sandbox, a PostgreSQL
of its own) under load while the API and the worker are killed with -9, PostgreSQL crashes and WeChat is slow
and failing; afterwards nothing acknowledged is lost and the books balance. `make faults` runs it longer."""

from __future__ import annotations

import pytest

from benchmarks.faults import ALL_FAULTS, run_faults


@pytest.mark.slow
@pytest.mark.serial  # kills and restarts processes on a timetable: alone, not beside other tests
async def test_a_short_fault_run_passes(capsys, tmp_path):
    faults = tuple(f for f in ALL_FAULTS if f != "pg_restart")  # the crash is the harder PostgreSQL fault
    passed = await run_faults(phase_seconds=5, faults=faults, users=4, members=12, logs=tmp_path)
    assert passed, capsys.readouterr().out
