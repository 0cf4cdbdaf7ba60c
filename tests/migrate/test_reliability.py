"""kill -9 during the copy, the catch-up and the final drain (real `cutover` processes), then resume.

After each crash the same command run again finishes the job: verification passes,
every member's points are conserved, and no row is there twice.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from migrate_support import (
    expected_table,
    member_rows,
    pg_members,
    rows_of,
    sqlite_members,
    write_plan,
)

from cutover.plan.models import Store

SYS = ["--env", "test", "--system", "loyalty-core"]
ROWS = 12_000


def cutover_command() -> list[str]:
    script = Path(sys.executable).parent / "cutover"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cutover.cli"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*cutover_command(), *args], capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def kill_when(args: list[str], ready: Callable[[], bool], timeout: float = 60.0) -> None:
    """Start `cutover ARGS` and SIGKILL it (and anything it started) once `ready()` holds."""
    proc = subprocess.Popen(
        [*cutover_command(), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, "the process finished before it could be killed"
            assert time.monotonic() < deadline, "never reached the point to kill at"
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _scalar(store: Store, sql: str) -> int:
    """One number from the target's bookkeeping (0 while the table does not exist yet)."""
    try:
        if store.engine == "postgresql":
            schema = (store.table or "").split(".")[0]
            with psycopg.connect(store.dsn or "", autocommit=True) as conn:
                row = conn.execute(sql.replace("{s}", f'"{schema}".')).fetchone()
        else:
            import sqlite3

            conn2 = sqlite3.connect(store.path or "", timeout=5)
            try:
                row = conn2.execute(sql.replace("{s}", "")).fetchone()
            finally:
                conn2.close()
    except (psycopg.Error, Exception):
        return 0
    return int(row[0] or 0) if row else 0


def _copied(target: Store) -> int:
    return _scalar(target, "SELECT sum(rows) FROM {s}_cutover_slices")


def _applied(target: Store) -> int:
    return _scalar(target, "SELECT max(applied_pos) FROM {s}_cutover_jobs")


def assert_exact(plan: Path, source: Store, target: Store) -> None:
    verified = run("migrate", "verify", str(plan), *SYS)
    assert "ok —" in verified.stdout and "conserved to the cent" in verified.stdout
    assert rows_of(target) == expected_table(rows_of(source).values())


@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_kill_during_copy_then_resume(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> None:
    """Killed mid-copy: part of the rows are in; the rerun resumes and the result is exact."""
    if engine == "postgresql":
        dsn, schema = request.getfixturevalue("pg_schema")
        source = pg_members(dsn, schema, member_rows(ROWS))
        target = Store(engine="postgresql", dsn=dsn, table=f"{schema}.members_new")
        extra = ["--path", "python", "--workers", "2"]
    else:
        source = sqlite_members(tmp_path / "legacy.db", member_rows(ROWS))
        target = Store(engine="sqlite", path=str(tmp_path / "tiers.db"), table="members")
        extra = []
    plan = write_plan(tmp_path, source, target)
    copy = ["migrate", "copy", str(plan), *SYS, "--chunk-rows", "200", "--nice-ratio", "4", *extra]
    kill_when(copy, lambda: _copied(target) >= 1_000)
    partial = _copied(target)
    assert 1_000 <= partial < ROWS and len(rows_of(target)) == partial
    resumed = run("migrate", "copy", str(plan), *SYS, "--nice-ratio", "0", *extra)
    assert "(resumed)" in resumed.stdout and f"{ROWS:,} rows" in resumed.stdout
    assert_exact(plan, source, target)


def test_kill_during_catch_up_then_resume(pg_schema: tuple[str, str], tmp_path: Path) -> None:
    """Killed while applying changes: the rerun continues from the applied position."""
    dsn, schema = pg_schema
    source = pg_members(dsn, schema, member_rows(ROWS))
    target = Store(engine="postgresql", dsn=dsn, table=f"{schema}.members_new")
    plan = write_plan(tmp_path, source, target)
    run("migrate", "copy", str(plan), *SYS)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for step in range(3):
            conn.execute(f'UPDATE "{schema}".members SET points_cents = points_cents + {7 + step}')
        conn.execute(f'DELETE FROM "{schema}".members WHERE member_id % 17 = 0')
    head = 3 * ROWS + ROWS // 17
    kill_when(
        ["migrate", "catchup", str(plan), *SYS, "--batch", "40"],
        lambda: _applied(target) >= head // 4,
    )
    assert 0 < _applied(target) < head
    run("migrate", "catchup", str(plan), *SYS)
    assert _applied(target) == head
    assert_exact(plan, source, target)


def test_kill_during_the_final_drain_then_resume(
    pg_schema: tuple[str, str], tmp_path: Path
) -> None:
    """Killed inside the write pause, applying the last writes: drain again, exact and verified.

    The freeze command makes a last burst of writes (those that landed before the freeze
    took hold) and leaves a marker; the drain is killed while it applies them.
    """
    dsn, schema = pg_schema
    source = pg_members(dsn, schema, member_rows(ROWS))
    target = Store(engine="postgresql", dsn=dsn, table=f"{schema}.members_new")
    plan = write_plan(tmp_path, source, target)
    run("migrate", "copy", str(plan), *SYS)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"UPDATE \"{schema}\".members SET status = 'closed' WHERE member_id % 5 = 0")
        before_freeze = conn.execute(
            f'SELECT max(pos) FROM "{schema}"._cutover_log_members'
        ).fetchone()[0]  # type: ignore[index]
    marker = tmp_path / "frozen"
    last_writes = (
        f"import psycopg; psycopg.connect({dsn!r}, autocommit=True).execute("
        f"'UPDATE \"{schema}\".members SET points_cents = points_cents - 3, lifetime_cents = lifetime_cents + 1')"
    )
    freeze = f"{sys.executable} -c {shlex.quote(last_writes)} && touch {marker}"
    drain = ["migrate", "drain", str(plan), *SYS, "--batch", "40"]
    kill_when(
        [*drain, "--freeze-command", freeze],
        lambda: marker.exists() and _applied(target) > before_freeze + 2_000,
    )
    assert before_freeze + 2_000 < _applied(target) < before_freeze + ROWS
    drained = run(*drain, "--already-frozen")
    assert "write pause" in drained.stdout and "ok —" in drained.stdout
    assert _applied(target) == before_freeze + ROWS
    assert_exact(plan, source, target)


def _children(pid: int) -> set[int]:
    """The pids of the processes `pid` started (Linux /proc), its threads' children included."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for a reaper does not)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a parent-death signal: Linux")
def test_copy_workers_die_with_their_parent_on_kill_9(
    pg_schema: tuple[str, str], tmp_path: Path
) -> None:
    """`migrate copy --workers 2` killed -9 (the parent alone, not its group): its worker
    processes are gone too, none left copying unwatched (they used to run on >= 180 s)."""
    dsn, schema = pg_schema
    source = pg_members(dsn, schema, member_rows(ROWS))
    target = Store(engine="postgresql", dsn=dsn, table=f"{schema}.members_new")
    plan = write_plan(tmp_path, source, target)
    copy = ["migrate", "copy", str(plan), *SYS, "--chunk-rows", "200", "--nice-ratio", "4"]
    proc = subprocess.Popen(
        [*cutover_command(), *copy, "--path", "python", "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 60  # guards against a hang; not a timing assertion
        while _copied(target) < 1_000 or len(children) < 2:
            assert proc.poll() is None, "the copy finished before it could be killed"
            assert time.monotonic() < deadline, "never reached the point to kill at"
            children = _children(proc.pid)
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: its children are on their own
        proc.wait()
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children if _alive(pid)]
        assert left == [], "workers outlived their parent"
    finally:
        for pid in children:  # whatever is left (before the fix): stop it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
