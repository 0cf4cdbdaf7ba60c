"""Rehearsals at size, kept small: the scratch database, the seeded population, bad input.

The sizes themselves run in bench/scale.py and `cutover drill --size large`, never here;
these tests use a few thousand members on the local PostgreSQL (CI fails, not skips,
when it is unreachable: tests/conftest.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from cutover.drill.population import seed_population
from cutover.drill.scratch import ScratchDatabase
from cutover.drill.size import check_fits, check_size, estimate, members_for, peak_rss_mb
from cutover.errors import UsageError
from support import PG_DSN, ROOT, run_cli

SERVER = PG_DSN.rsplit("/", 1)[0] + "/postgres"


def _databases(server: str) -> set[str]:
    with psycopg.connect(server, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}


def test_a_scratch_database_lives_exactly_as_long_as_its_block(pg_server: str) -> None:
    """Created on entry with the two schemas, dropped on exit, also when the block fails."""
    with pytest.raises(RuntimeError), ScratchDatabase(SERVER, name="cutover_scale_t1") as db:
        assert "cutover_scale_t1" in _databases(SERVER)
        with psycopg.connect(db.dsn("cutover_legacy"), autocommit=True) as conn:
            assert conn.execute("SELECT current_schema()").fetchone() == ("cutover_legacy",)
        raise RuntimeError("boom")
    assert "cutover_scale_t1" not in _databases(SERVER)


def test_a_named_database_keeps_everything_but_our_schemas(pg_server: str) -> None:
    """In a database the user names, only the two schemas come and go; the database stays;
    schemas of those names already there are refused, not replaced."""
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS cutover_scale_t2")
        conn.execute("CREATE DATABASE cutover_scale_t2")
    try:
        with ScratchDatabase(SERVER, name="cutover_scale_t2") as db:
            assert not db.created
            with pytest.raises(UsageError, match="already has schema"):
                ScratchDatabase(SERVER, name="cutover_scale_t2").__enter__()
            with psycopg.connect(db.dsn("cutover_legacy"), autocommit=True) as conn:
                conn.execute("CREATE TABLE kept (x int)")  # ours: it goes with the schema
        assert "cutover_scale_t2" in _databases(SERVER)
        with psycopg.connect(db.dsn(), autocommit=True) as conn:
            left = conn.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'cutover_%'"
            ).fetchone()
        assert left == (0,)
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS cutover_scale_t2 WITH (FORCE)")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_scratch_database_is_dropped_on_ctrl_c_and_sigterm(pg_server: str, sig: int) -> None:
    """A process stopped by Ctrl-C or SIGTERM while it holds a scratch database drops it."""
    script = (
        "import sys, time\n"
        "from cutover import logs\n"
        "from cutover.drill.scratch import ScratchDatabase\n"
        "logs.configure(level='warning')\n"
        f"with ScratchDatabase({SERVER!r}) as db:\n"
        "    print(db.name, flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    name = child.stdout.readline().strip()
    assert name == f"cutover_scale_{child.pid}"
    assert name in _databases(SERVER)
    child.send_signal(sig)
    child.wait(30)
    assert name not in _databases(SERVER)


def test_an_unreachable_server_is_one_line_and_nothing_is_created() -> None:
    """No server on the port: a UsageError naming where, nothing created."""
    with (
        pytest.raises(UsageError) as caught,
        ScratchDatabase("postgresql://postgres@127.0.0.1:1/x"),
    ):
        pass
    assert "127.0.0.1:1" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_seeded_population_conserves_every_members_points(pg_server: str) -> None:
    """Each member's balance is the sum of their history's deltas, to the centipoint;
    history rows name company stores or partner storefronts; keys are built."""
    with ScratchDatabase(SERVER, name="cutover_scale_t3") as db:
        dsn = db.dsn("cutover_legacy")
        seeded = seed_population(dsn, 3_000, workers=2, block=500)
        assert seeded.members == 3_000
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM members").fetchone() == (3_000,)
            assert conn.execute("SELECT count(*) FROM transactions").fetchone() == (
                seeded.history_rows,
            )
            off = conn.execute(
                "SELECT count(*) FROM members m JOIN (SELECT member_id, sum(points_delta_cents) s "
                "FROM transactions GROUP BY member_id) t USING (member_id) WHERE m.points_cents <> t.s"
            ).fetchone()
            assert off == (0,)
            kinds = conn.execute("SELECT count(DISTINCT kind) FROM transactions").fetchone()
            assert kinds is not None and kinds[0] >= 10
            stores = conn.execute(
                "SELECT min(store_id), max(store_id) FROM transactions"
            ).fetchone()
            assert stores is not None and stores[0] >= 1 and stores[1] <= 18_000
            keys = conn.execute(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = 'cutover_legacy'"
            ).fetchone()
            assert keys == (4,)


def test_bad_sizes_and_rates_are_refused_with_one_line() -> None:
    """--members 0, a negative rate, an unknown --size, a size the disk cannot hold."""
    with pytest.raises(UsageError, match="--members must be at least 1"):
        check_size(0)
    with pytest.raises(UsageError, match="--rate must be more than 0"):
        check_size(10, -1.0)
    with pytest.raises(UsageError, match="--size 'huge'"):
        members_for("huge", None)
    assert members_for("large", None) == 16_000_000
    assert members_for(None, 5_000) == 5_000
    assert members_for("small", None) is None
    with pytest.raises(UsageError, match="GiB of disk") as caught:
        check_fits(estimate(10**12), data_dir=None)
    assert "\n" not in str(caught.value)
    assert peak_rss_mb() > 0


def test_bench_scale_refuses_bad_input_before_anything() -> None:
    """bench/scale.py: --members 0 and a negative rate are one line each, exit 2."""
    for args in (["--members", "0"], ["--members", "10", "--rate", "-1"]):
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "scale.py"), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1


def test_the_drill_refuses_members_zero_with_one_line() -> None:
    """`cutover drill ... --members 0` is one line and exit 2, before anything starts."""
    result = run_cli("drill", "rewards-tiers", "--env", "staging", "--members", "0")
    assert result.code == 2
    assert "--members must be at least 1" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_peak_rss_of_another_process_reads_its_high_water_mark() -> None:
    """The estate's and the simulator's peak memory come from /proc/PID/status."""
    if not Path(f"/proc/{os.getpid()}/status").exists():
        pytest.skip("no /proc here")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        time.sleep(0.3)
        assert peak_rss_mb(child.pid) > 1
    finally:
        child.kill()
        child.wait()


def test_members_outside_the_ledger_reconcile_the_same_in_sql_and_streamed(
    pg_server: str, tmp_path: Path
) -> None:
    """Every seeded member's balance against their rows: the one-statement check inside
    PostgreSQL and the streamed merge agree, and both name a member whose balance is off."""
    from cutover.plan.models import Store
    from cutover.sim import member_sums as rec
    from cutover.sim.report import Report
    from cutover.sim.stores import RecordStore

    with ScratchDatabase(SERVER, name="cutover_scale_t4") as db:
        seed_population(db.dsn("cutover_legacy"), 2_000, workers=1)
        legacy = RecordStore(
            "legacy",
            Store(engine="postgresql", dsn=db.dsn("cutover_legacy"), table="members"),
            "legacy",
            tmp_path,
        )
        tiers = RecordStore(
            "tiers",
            Store(engine="postgresql", dsn=db.dsn("cutover_tiers"), table="members"),
            "tiers",
            tmp_path,
        )
        try:
            tiers.copy_members_from(legacy)
            tiers.db.execute("update members set points = points + 1 where member_id = 17")
            tiers.db.execute("delete from members where member_id = 18")
            in_sql, streamed = Report(), Report()
            assert rec.in_one_database(in_sql, legacy, tiers, {5})
            streamed_where = tiers.where
            tiers.where = lambda: None  # type: ignore[method-assign]
            rec.check_members(streamed, legacy, tiers, {5})
            tiers.where = streamed_where  # type: ignore[method-assign]
            assert in_sql.balance_mismatches == streamed.balance_mismatches
            assert in_sql.members_replayed == streamed.members_replayed == 1_999
            assert [m.split(":")[0] for m in in_sql.balance_mismatches] == [
                "member 17",
                "member 18",
            ]
        finally:
            legacy.close()
            tiers.close()
