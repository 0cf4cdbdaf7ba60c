"""The journal on a real SQLite file and on the local PostgreSQL: resume, audit, clock anchor."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cutover.clock import RunClock
from cutover.errors import UsageError
from cutover.journal import Journal, idempotency_key


def exercise(journal: Journal) -> None:
    start = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    clock = RunClock.drill(start, 1000)
    assert journal.open_run("r1", "demo", "staging", clock) == clock
    # a second process resuming the run gets the first clock back
    later = RunClock.drill(start, 1000, started=clock.real_anchor + timedelta(minutes=5))
    assert journal.open_run("r1", "demo", "staging", later) == clock
    with pytest.raises(UsageError, match="belongs to plan 'demo'"):
        journal.open_run("r1", "other", "staging", clock)

    journal.begin("r1", "core", "freeze")
    assert not journal.is_done("r1", "core", "freeze")  # began, never finished: not done
    journal.begin("r1", "core", "freeze")
    journal.finish("r1", "core", "freeze", detail={"mode": "buffer-writes"})
    assert journal.is_done("r1", "core", "freeze")
    assert not journal.is_done("r1", "core", "freeze", action="undo")
    assert not journal.is_done("r2", "core", "freeze")
    journal.finish("r1", "pos", "switch", status="skipped", detail={"reason": "not needed"})
    assert journal.is_done("r1", "pos", "switch")
    assert [r.step for r in journal.completed("r1")] == ["freeze"]
    record = journal.outcome("r1", "core", "freeze")
    assert record is not None and record.detail == {"mode": "buffer-writes"}
    assert record.idempotency_key == idempotency_key("r1", "core", "freeze")
    statuses = [(r.system, r.step, r.status) for r in journal.history("r1")]
    assert statuses == [
        ("core", "freeze", "started"),
        ("core", "freeze", "started"),
        ("core", "freeze", "done"),
        ("pos", "switch", "skipped"),
    ]
    journal.decide("r1", "fronts", "store-tech", "approve", "Marcus Webb", "backup verified")
    (decision,) = journal.decisions("r1")
    assert (decision.who, decision.decision, decision.comment) == (
        "Marcus Webb",
        "approve",
        "backup verified",
    )


def test_journal_on_sqlite_survives_reopening(tmp_path: Path) -> None:
    """Everything written is there after the journal is closed and opened again."""
    path = tmp_path / "journal.db"
    journal = Journal(path)
    exercise(journal)
    journal.close()
    again = Journal(path)
    assert again.is_done("r1", "core", "freeze")
    assert len(again.history("r1")) == 4
    assert again.run_keys() == ["r1"]


def test_journal_on_postgresql(pg_schema: tuple[str, str]) -> None:
    dsn, schema = pg_schema
    journal = Journal(f"{dsn}?options=-csearch_path%3D{schema}")
    exercise(journal)
    journal.close()


def test_unreachable_postgres_journal_is_one_clear_error() -> None:
    with pytest.raises(
        UsageError, match=re.escape("journal at postgresql+psycopg://nobody@127.0.0.1:1/x")
    ):
        Journal("postgresql://nobody@127.0.0.1:1/x?connect_timeout=1")


def test_clock_maps_plan_time_to_compressed_real_time() -> None:
    start = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    real = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    clock = RunClock(start, real, 1000)
    assert clock.to_real(start + timedelta(hours=1)) == real + timedelta(seconds=3.6)
    assert clock.to_plan(real + timedelta(seconds=36)) == start + timedelta(hours=10)
    assert clock.real_seconds(timedelta(days=3)) == pytest.approx(259.2)
    production = RunClock.production(start)
    assert production.to_real(start + timedelta(hours=5)) == start + timedelta(hours=5)


def test_skipped_idle_time_is_durable_and_maps_both_ways(tmp_path: Path) -> None:
    """A drill jumps over a night: plan time leaps, earlier real times keep their plan times."""
    start = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    real0 = datetime.now(UTC) - timedelta(seconds=20)
    journal = Journal(tmp_path / "j.db")
    clock = journal.open_run("r", "demo", "staging", RunClock(start, real0, 100.0))
    before = real0 + timedelta(seconds=10)  # plan: start + 1000 s
    assert clock.to_plan(before) == start + timedelta(seconds=1000)
    moved = journal.skip_clock("r", clock, start + timedelta(hours=20))
    assert moved.now() >= start + timedelta(hours=20)
    assert moved.to_plan(before) == start + timedelta(seconds=1000)  # history unchanged
    jump_at = moved.skips[-1][0]
    assert moved.to_real(start + timedelta(hours=10)) == jump_at  # inside the skipped gap
    later = start + timedelta(hours=20, seconds=100)
    assert abs((moved.to_plan(moved.to_real(later)) - later).total_seconds()) < 1e-3
    reread = Journal(tmp_path / "j.db").open_run("r", "demo", "staging", clock)
    assert reread.skips == moved.skips


OPEN_AT = (
    "import sys, time\n"
    "from cutover.clock import RunClock, utcnow\n"
    "from cutover.journal import Journal\n"
    "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
    "journal = Journal(sys.argv[1])\n"
    "clock = journal.open_run('r', 'demo', 'staging', RunClock.drill(utcnow(), 600.0))\n"
    "for i in range(20):\n"
    "    journal.begin('r', sys.argv[3], f'step-{i}')\n"
    "journal.close()\n"
    "print(clock.real_anchor.isoformat())\n"
)


def test_processes_opening_a_new_journal_at_once_all_succeed(tmp_path: Path) -> None:
    """The runner, workers and a reader may create a new journal at the same moment, open
    the same run and write at once: whoever loses the race to CREATE TABLE just finds the
    tables, whoever loses the run's insert reads the winner's clock, and a write SQLite
    refuses as locked is retried; every record arrives."""
    import subprocess
    import sys
    import time

    for attempt in range(2):
        path = str(tmp_path / f"journal{attempt}.db")
        start_at = str(time.time() + 2.0)  # after every process has imported
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT, path, start_at, f"system-{n}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(6)
        ]
        outputs = [proc.communicate(timeout=120) for proc in procs]
        assert [proc.returncode for proc in procs] == [0] * 6, [err for _, err in outputs]
        assert len({out.strip() for out, _ in outputs}) == 1  # one clock: the first opener's
        assert len(Journal(path).history("r")) == 6 * 20
