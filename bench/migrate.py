"""Benchmark: the data plane's rates, each against a baseline measured in the same run.

    .venv/bin/python bench/migrate.py                  # 1,000,000 members, a table
    .venv/bin/python bench/migrate.py --rows 200000    # smaller
    .venv/bin/python bench/migrate.py --json           # ... and one JSON object, last line

On PostgreSQL (CUTOVER_BENCH_PG, default the local test database) and then on SQLite:

1. `baseline_rows_per_s`: raw COPY (SQLite: one executemany transaction) of the same
   legacy rows into an identical keyed table, no transform.
2. `copy_rows_per_s`, `copy_ratio`: `run_copy` into a new table, transform, checkpoints
   and capture included; the path is chosen automatically (`path`: `sql` when source and
   target share a server). `python_copy_*`: the same into another database, where the
   transform runs in Python (two worker processes by default).
3. `verify_rows_per_s`: `verify` of the copied rows (counts, checksums, conservation).
4. `live_write_ratio`: writer processes doing durable single-row updates (member row +
   transaction row) as fast as the source takes them with capture on; their rate while
   `run_copy` runs with the default throttle, over their rate without the copy (the
   mean of the windows just before and just after it). Also
   `full_speed_write_ratio` (throttle off) and `capture_cost` (rate lost to the triggers).
5. `apply_changes_per_s`: catch-up of a bulk of changes; `catchup_lag_s`: the lag when
   catch-up converges with the writers running; `write_pause_s`: the final drain's pause
   (freeze = stop the writers, drain, verify the changed keys and totals, unfreeze).

The same figures on SQLite carry a `sqlite_` prefix. A projection for 16 million
members closes the table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from cutover import logs, migrate
from cutover.plan.models import Store

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "plans" / "mappings" / "members.yaml"
DSN = os.environ.get("CUTOVER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "cutover_bench"
OTHER_DB = "cutover_bench_target"
WRITERS = 2
LEGACY_DDL = (
    "member_id bigint PRIMARY KEY, email text NOT NULL, status text NOT NULL, "
    "points_cents bigint NOT NULL, lifetime_cents bigint NOT NULL, updated_at text NOT NULL"
)
TXN_DDL = (
    "txn_id text PRIMARY KEY, member_id bigint NOT NULL, kind text NOT NULL, amount_cents bigint NOT NULL, "
    "points_delta_cents bigint NOT NULL, program text NOT NULL, at text NOT NULL"
)
TARGETS = {
    "baseline_rows_per_s": None,
    "copy_ratio": (0.85, "sql path"),
    "python_copy_ratio": (0.5, "python path"),
    "verify_rows_per_s": (500_000, ""),
    "live_write_ratio": (0.8, ""),
    "apply_changes_per_s": (30_000, ""),
    "catchup_lag_s": (1.0, "max"),
    "write_pause_s": (1.0, "max"),
}


# ------------------------------------------------------------------ writers


def _writer(
    engine: str, where: str, rows: int, seed: int, hold: Any, idle: Any, stop: Any, count: Any
) -> None:
    """A live system's writer: one member update and one transaction row per committed transaction."""
    rng = random.Random(seed)
    run = f"{os.getpid()}-{time.time_ns()}"
    if engine == "postgresql":
        conn: Any = psycopg.connect(where)
        members, txns, ph = f"{SCHEMA}.members", f"{SCHEMA}.transactions", "%s"
    else:
        conn = sqlite3.connect(where, timeout=60, isolation_level=None)
        conn.execute("PRAGMA synchronous = NORMAL")
        members, txns, ph = "members", "transactions", "?"
    n = 0
    try:
        while not stop.is_set():
            if hold.is_set():
                idle.set()
                time.sleep(0.001)
                continue
            idle.clear()
            key = rng.randint(1, rows)
            delta = rng.randint(1, 5_000)
            if engine == "sqlite":
                conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                f"UPDATE {members} SET points_cents = points_cents + {ph}, "
                f"lifetime_cents = lifetime_cents + {ph} WHERE member_id = {ph}",
                (delta, delta, key),
            )
            conn.execute(
                f"INSERT INTO {txns} VALUES ({ph}, {ph}, 'purchase', {ph}, {ph}, 'stars-classic', '2027-02-23')",
                (f"w{run}-{seed}-{n}", key, delta, delta),
            )
            conn.commit() if engine == "postgresql" else conn.execute("COMMIT")
            n += 1
            with count.get_lock():
                count.value += 1
    finally:
        idle.set()
        conn.close()


class Writers:
    """Writer processes with a freeze (hold) that waits until none is mid-transaction."""

    def __init__(self, engine: str, where: str, rows: int, processes: int = WRITERS) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.hold, self.stop = ctx.Event(), ctx.Event()
        self.count = ctx.Value("q", 0)
        self.idles = [ctx.Event() for _ in range(processes)]
        self.procs = [
            ctx.Process(
                target=_writer,
                args=(
                    engine,
                    where,
                    rows,
                    1000 + i,
                    self.hold,
                    self.idles[i],
                    self.stop,
                    self.count,
                ),
                daemon=True,
            )
            for i in range(processes)
        ]

    def __enter__(self) -> Writers:
        for p in self.procs:
            p.start()
        time.sleep(1.0)  # connections open, caches warm
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for p in self.procs:
            p.join(timeout=30)

    def freeze(self) -> None:
        for idle in self.idles:
            idle.clear()
        self.hold.set()
        for proc, idle in zip(self.procs, self.idles, strict=True):
            while proc.is_alive() and not idle.wait(timeout=0.05):
                pass

    def unfreeze(self) -> None:
        self.hold.clear()

    def rate(self, seconds: float) -> float:
        start, began = self.count.value, time.perf_counter()
        time.sleep(seconds)
        return (self.count.value - start) / (time.perf_counter() - began)

    def rate_during(self, work: Callable[[], object]) -> tuple[float, float]:
        """Writes per second while `work()` runs, and how long it ran."""
        start, began = self.count.value, time.perf_counter()
        work()
        elapsed = time.perf_counter() - began
        return (self.count.value - start) / elapsed, elapsed


# --------------------------------------------------------------- PostgreSQL


def _pg(sql: str, dsn: str = DSN) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


def _other_database() -> str | None:
    """A second database on the server (the python path's target), or None if not allowed."""
    try:
        with psycopg.connect(DSN, autocommit=True) as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [OTHER_DB]
            ).fetchone():
                conn.execute(f"CREATE DATABASE {OTHER_DB}")
    except psycopg.Error:
        return None
    base = DSN.rsplit("/", 1)[0]
    _pg(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}", f"{base}/{OTHER_DB}")
    return f"{base}/{OTHER_DB}"


def build_postgres(rows: int) -> None:
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(f"CREATE TABLE {SCHEMA}.members ({LEGACY_DDL})")
        conn.execute(
            f"INSERT INTO {SCHEMA}.members SELECT i, 'Member' || i || '@Example.com', "
            "CASE WHEN mod(i, 11) = 0 THEN 'closed' ELSE 'active' END, mod(i * 7919, 100000) - 900, "
            "mod(i * 104729, 400000), '2027-01-01T00:00:00Z' FROM generate_series(1::bigint, %s) i",
            [rows],
        )
        conn.execute(f"CREATE TABLE {SCHEMA}.transactions ({TXN_DDL})")
        conn.execute(
            f"INSERT INTO {SCHEMA}.transactions SELECT 't' || i, 1 + mod(i, %s), 'purchase', mod(i, 5000), "
            "mod(i, 5000) * 125 / 100, 'stars-classic', '2027-01-01' FROM generate_series(1::bigint, %s) i",
            [rows, rows // 2],
        )
        conn.execute(f"VACUUM ANALYZE {SCHEMA}.members")
        conn.execute(f"VACUUM ANALYZE {SCHEMA}.transactions")


def pg_baseline(rows: int) -> float:
    with psycopg.connect(DSN, autocommit=True) as conn:
        buf = bytearray()
        with conn.cursor().copy(f"COPY {SCHEMA}.members TO STDOUT") as copy:
            for data in copy:
                buf += data
        data = bytes(buf)
        conn.execute(f"CREATE TABLE {SCHEMA}.members_baseline ({LEGACY_DDL})")
        began = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor().copy(f"COPY {SCHEMA}.members_baseline FROM STDIN") as copy,
        ):
            for start in range(0, len(data), 1 << 20):
                copy.write(data[start : start + (1 << 20)])
        elapsed = time.perf_counter() - began
        conn.execute(f"DROP TABLE {SCHEMA}.members_baseline")
    return rows / elapsed


def _best_copy(
    source: Store, targets: list[Store], drop: Callable[[Store], None], **options: Any
) -> tuple[migrate.CopyReport, Store]:
    """The fastest of copies into fresh targets (this machine's disk is noisy); keeps that one."""
    reports = [
        migrate.run_copy(source, t, MAPPING, throttle=migrate.Throttle.off(), **options)
        for t in targets
    ]
    best = min(range(len(targets)), key=lambda i: reports[i].seconds)
    for i, target in enumerate(targets):
        if i != best:
            drop(target)
    return reports[best], targets[best]


def bench_postgres(rows: int, seconds: float, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": rows}
    build_postgres(rows)
    source = Store(engine="postgresql", dsn=DSN, table=f"{SCHEMA}.members")
    out.update(_writer_rates("postgresql", DSN, rows, seconds, source))
    out["baseline_rows_per_s"] = max(pg_baseline(rows) for _ in range(repeat))

    def drop(store: Store) -> None:
        schema, table = (store.table or "").split(".")
        _pg(
            f"DROP TABLE IF EXISTS {schema}.{table}; DELETE FROM {schema}._cutover_slices "
            f"WHERE job LIKE '%{table}'; DELETE FROM {schema}._cutover_jobs WHERE job LIKE '%{table}'",
            store.dsn or DSN,
        )

    report, target = _best_copy(
        source,
        [
            Store(engine="postgresql", dsn=DSN, table=f"{SCHEMA}.members_new{i}")
            for i in range(repeat)
        ],
        drop,
    )
    out["path"] = report.path
    out["copy_rows_per_s"] = rows / report.seconds
    out["copy_ratio"] = out["copy_rows_per_s"] / out["baseline_rows_per_s"]

    other = _other_database()
    py, python_target = _best_copy(
        source,
        [
            Store(engine="postgresql", dsn=other, table=f"{SCHEMA}.members_new{i}")
            if other
            else Store(engine="postgresql", dsn=DSN, table=f"{SCHEMA}.members_py{i}")
            for i in range(repeat)
        ],
        drop,
        path="python",
    )
    out["python_copy_target"] = "another database" if other else "same database, python path forced"
    out["python_copy_workers"] = py.workers
    out["python_copy_rows_per_s"] = rows / py.seconds
    out["python_copy_ratio"] = out["python_copy_rows_per_s"] / out["baseline_rows_per_s"]

    verified = migrate.verify(source, target, MAPPING)
    out["verify_rows_per_s"] = rows / verified.seconds
    out["python_verify_rows_per_s"] = rows / migrate.verify(source, python_target, MAPPING).seconds

    out.update(
        _live(
            "postgresql",
            DSN,
            rows,
            seconds,
            source,
            lambda name: Store(engine="postgresql", dsn=DSN, table=f"{SCHEMA}.{name}"),
            drop=lambda name: _pg(f"DROP TABLE IF EXISTS {SCHEMA}.{name}"),
        )
    )
    out.update(_catch_up(source, target, python_target, rows, "postgresql", DSN))
    return out


# ------------------------------------------------------------------- SQLite


def build_sqlite(path: Path, rows: int) -> list[tuple[Any, ...]]:
    data = [
        (i, f"Member{i}@Example.com", "closed" if i % 11 == 0 else "active",
         (i * 7919) % 100_000 - 900, (i * 104_729) % 400_000, "2027-01-01T00:00:00Z")
        for i in range(1, rows + 1)
    ]  # fmt: skip
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(
        f"CREATE TABLE members ({LEGACY_DDL.replace('bigint PRIMARY KEY', 'INTEGER PRIMARY KEY')})"
    )
    conn.execute(f"CREATE TABLE transactions ({TXN_DDL})")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO members VALUES (?, ?, ?, ?, ?, ?)", data)
    conn.executemany(
        "INSERT INTO transactions VALUES (?, ?, 'purchase', ?, ?, 'stars-classic', '2027-01-01')",
        ((f"t{i}", 1 + i % rows, i % 5000, (i % 5000) * 125 // 100) for i in range(rows // 2)),
    )
    conn.execute("COMMIT")
    conn.close()
    return data


def sqlite_baseline(path: Path, data: list[tuple[Any, ...]]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        f"CREATE TABLE members ({LEGACY_DDL.replace('bigint PRIMARY KEY', 'INTEGER PRIMARY KEY')})"
    )
    began = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO members VALUES (?, ?, ?, ?, ?, ?)", data)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - began
    conn.close()
    return len(data) / elapsed


def bench_sqlite(rows: int, seconds: float, repeat: int, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": rows}
    legacy = work / "legacy.db"
    data = build_sqlite(legacy, rows)
    source = Store(engine="sqlite", path=str(legacy), table="members")
    out.update(_writer_rates("sqlite", str(legacy), rows, seconds, source))
    out["baseline_rows_per_s"] = max(
        sqlite_baseline(work / f"baseline{i}.db", data) for i in range(repeat)
    )
    del data

    def drop(store: Store) -> None:
        Path(store.path or "").unlink(missing_ok=True)

    def files(name: str) -> list[Store]:
        return [
            Store(engine="sqlite", path=str(work / f"{name}{i}.db"), table="members")
            for i in range(repeat)
        ]

    report, target = _best_copy(source, files("tiers"), drop)
    out["path"] = report.path
    out["copy_rows_per_s"] = rows / report.seconds
    out["copy_ratio"] = out["copy_rows_per_s"] / out["baseline_rows_per_s"]
    py, python_target = _best_copy(source, files("tiers-py"), drop, path="python")
    out["python_copy_rows_per_s"] = rows / py.seconds
    out["python_copy_ratio"] = out["python_copy_rows_per_s"] / out["baseline_rows_per_s"]
    out["verify_rows_per_s"] = rows / migrate.verify(source, target, MAPPING).seconds

    def drop(name: str) -> None:
        (work / f"{name}.db").unlink(missing_ok=True)

    out.update(
        _live(
            "sqlite",
            str(legacy),
            rows,
            seconds,
            source,
            lambda name: Store(engine="sqlite", path=str(work / f"{name}.db"), table="members"),
            drop=drop,
        )
    )
    out.update(_catch_up(source, target, python_target, rows, "sqlite", str(legacy)))
    return out


# ------------------------------------------------------- shared measurements


def _writer_rates(
    engine: str, where: str, rows: int, seconds: float, source: Store
) -> dict[str, Any]:
    """The writers' rate without capture, then with it (the triggers' cost); capture stays on.

    Measured before any copy exists: a job must never see capture removed under it."""
    with Writers(engine, where, rows) as writers:
        bare = writers.rate(seconds)
        migrate.install_capture(source, MAPPING)
        captured = writers.rate(seconds)
    return {"writes_per_s": captured, "capture_cost": 1 - captured / bare}


def _live(
    engine: str,
    where: str,
    rows: int,
    seconds: float,
    source: Store,
    store: Callable[[str], Store],
    *,
    drop: Callable[[str], None],
) -> dict[str, Any]:
    """Writer rates during a throttled and a full-speed copy, against their rate just before."""
    out: dict[str, Any] = {}
    with Writers(engine, where, rows) as writers:
        # the writers' own rate drifts by +-15% from one window to the next on this
        # machine: their rate without the copy is taken just before and just after it
        before = writers.rate(seconds)
        throttled, copy_s = writers.rate_during(
            lambda: migrate.run_copy(source, store("members_live"), MAPPING, capture=False)
        )
        after = writers.rate(seconds)
        captured = (before + after) / 2
        out["live_write_ratio"] = throttled / captured
        out["live_copy_s"] = copy_s
        drop("members_live")
        full, _ = writers.rate_during(
            lambda: migrate.run_copy(
                source,
                store("members_full"),
                MAPPING,
                capture=False,
                throttle=migrate.Throttle.off(),
            )
        )
        out["full_speed_write_ratio"] = full / captured
        drop("members_full")
    return out


def _catch_up(
    source: Store, target: Store, python_target: Store, rows: int, engine: str, where: str
) -> dict[str, Any]:
    """Bulk catch-up rate (both paths), then lag with live writers, then the final drain's pause."""
    out: dict[str, Any] = {}
    migrate.catch_up(source, target, MAPPING)  # what the writers did so far
    migrate.catch_up(source, python_target, MAPPING)
    changes = min(rows, 200_000)
    if engine == "postgresql":
        _pg(
            f"UPDATE {SCHEMA}.members SET points_cents = points_cents + 1 WHERE member_id <= {changes}"
        )
    else:
        conn = sqlite3.connect(where, isolation_level=None)
        conn.execute(
            f"UPDATE members SET points_cents = points_cents + 1 WHERE member_id <= {changes}"
        )
        conn.close()
    bulk = migrate.catch_up(source, target, MAPPING)
    out["apply_path"] = bulk.path
    out["apply_changes_per_s"] = bulk.entries / bulk.seconds
    py = migrate.catch_up(source, python_target, MAPPING, path="python")
    out["python_apply_changes_per_s"] = py.entries / py.seconds
    with Writers(engine, where, rows) as writers:
        time.sleep(1.0)
        live = migrate.catch_up(source, target, MAPPING)
        out["catchup_lag_s"] = live.lag_s
        out["catchup_lag_entries"] = live.lag_entries
        drained = migrate.final_drain(
            source, target, MAPPING, freeze=writers.freeze, unfreeze=writers.unfreeze
        )
        out["write_pause_s"] = drained.pause_s
        out["drain_rechecked_keys"] = drained.rechecked_keys
        assert drained.verification is not None and drained.verification.ok
    return out


# ------------------------------------------------------------------- report


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 10 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def report(results: dict[str, Any]) -> str:
    lines = [
        f"cutover data plane benchmark · {platform.node()} · {os.cpu_count()} cores · {results['rows']:,} members"
    ]
    for engine in ("postgresql", "sqlite"):
        figures = results.get(engine)
        if not figures:
            continue
        lines.append(f"\n{engine}")
        for key, value in figures.items():
            target = TARGETS.get(key)
            mark = ""
            if target:
                bound, note = target
                ok = value <= bound if note == "max" else value >= bound
                mark = f"   target {'≤' if note == 'max' else '≥'} {_fmt(bound)} {'ok' if ok else 'MISSED'}"
            lines.append(f"  {key:28} {_fmt(value):>14}{mark}")
        base, copy_rate, verify_rate = (
            figures["baseline_rows_per_s"],
            figures["copy_rows_per_s"],
            figures["verify_rows_per_s"],
        )
        lines.append(
            f"  projection, 16,000,000 members: copy {16e6 / copy_rate / 60:,.1f} min ({figures['path']}), "
            f"python path {16e6 / figures['python_copy_rows_per_s'] / 60:,.1f} min, verify "
            f"{16e6 / verify_rate / 60:,.1f} min, raw load {16e6 / base / 60:,.1f} min"
        )
    return "\n".join(lines)


def flatten(results: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = dict(results["postgresql"])
    for key, value in results.get("sqlite", {}).items():
        flat[f"sqlite_{key}"] = value
    return flat


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="members to build (default 1,000,000)"
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="writer-rate window (default 3)")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object as the last line"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="best of N for baselines and copies (default 2)"
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args(argv)
    logs.configure(level="warning")
    results: dict[str, Any] = {"rows": args.rows}
    results["postgresql"] = bench_postgres(args.rows, args.seconds, args.repeat)
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory(prefix="cutover-bench-") as work:
            results["sqlite"] = bench_sqlite(args.rows, args.seconds, args.repeat, Path(work))
    _pg(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    with contextlib.suppress(psycopg.Error):  # still in use: the next run empties it
        _pg(f"DROP DATABASE IF EXISTS {OTHER_DB}")
    print(report(results))
    if args.json:
        print(json.dumps(flatten(results)))


if __name__ == "__main__":
    main()
