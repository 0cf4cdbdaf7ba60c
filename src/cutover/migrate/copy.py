"""The snapshot copy: key-ordered chunks, transformed, each committed with its checkpoint.

A chunk's rows, its rejects and its slice's new position commit in one target
transaction, after checking the slice still stands where this worker read it; a
process killed at any moment therefore resumes exactly after the last committed
chunk, and two processes on one slice cannot both write a chunk. Change capture is
installed (and the changelog's safe position recorded) *before* the first chunk is
read, so every change the snapshot might miss is in the changelog for catch-up.

Workers: the key space is cut into slices (recorded in the target), one per worker
process; each slice is copied independently, so workers may run anywhere that can
reach both stores.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cutover.errors import CutoverError, MigrationError, StoreError
from cutover.logs import get_logger
from cutover.migrate.capture import Changelog
from cutover.migrate.checkpoint import Slice
from cutover.migrate.mapping import Mapping
from cutover.migrate.migration import Endpoint, Migration, PathChoice, default_workers
from cutover.migrate.postgres import PostgresDatabase
from cutover.migrate.progress import Progress, ProgressFn, Rate, eta
from cutover.migrate.stores import Database, open_store
from cutover.migrate.throttle import Governor, Throttle
from cutover.migrate.transform import Reject, ident
from cutover.plan.models import Store

log = get_logger("cutover.migrate.copy")

DEFAULT_CHUNK_ROWS = 20_000
"""Rows per chunk (and per checkpoint). Measured: 10k-50k all run at full speed."""
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class CopyReport:
    """What a snapshot copy did."""

    job: str
    path: str
    path_reason: str
    rows: int
    rejected: int
    seconds: float
    rows_per_s: float
    workers: int
    resumed: bool
    start_pos: int
    rejects_file: str | None = None


def run_copy(
    source: Store | Endpoint,
    target: Store | Endpoint,
    mapping: str | Path | Mapping,
    *,
    job: str | None = None,
    path: PathChoice = "auto",
    workers: int | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    throttle: Throttle | None = None,
    capture: bool = True,
    rejects: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> CopyReport:
    """Copy a snapshot of the source into the target, resuming a job already under way."""
    throttle = throttle or Throttle()
    started = time.monotonic()
    with Migration.open(source, target, mapping, job=job, path=path) as m:
        if m.is_feed:
            from cutover.migrate.feed_copy import load_feed

            return load_feed(m, chunk_rows=chunk_rows, rejects=rejects, progress=progress)
        existing = m.checkpoints.load()
        if existing is None and m.target.columns(m.target_table) is not None:
            rows = m.target.count(m.target_table)
            if rows:
                raise StoreError(
                    f"target table {m.target_table} already holds {rows:,} rows and no copy of "
                    f"job {m.job!r} is recorded there; refusing to mix data (empty it, or name "
                    "the job that wrote it)",
                    store=m.target.label,
                )
        m.prepare(capture=capture)
        state = existing or m.checkpoints.create(m.log.safe_position(wait=30.0), m.path)
        resumed = existing is not None
        count = workers or default_workers(m)
        if not state.copy_done:
            slices = m.checkpoints.slices() or m.checkpoints.plan_slices(_bounds(m, count))
            pending = [s.index for s in slices if not s.done]
            log.info(
                "copy_started",
                job=m.job,
                path=m.path,
                why=m.path_reason,
                workers=count,
                slices=len(slices),
                pending=len(pending),
                resumed=resumed,
            )
            if count > 1 and len(pending) > 1:
                _copy_in_workers(m, pending, count, chunk_rows, throttle, progress)
            else:
                copy_slices(m, pending, chunk_rows, throttle, progress)
            if m.target.dialect == "postgresql":
                m.target.execute("RESET synchronous_commit")
            m.ensure_key()
            m.checkpoints.finish_copy()
        slices = m.checkpoints.slices()
        rows = sum(s.rows for s in slices)
        rejected = m.checkpoints.reject_count()
        seconds = time.monotonic() - started
        written = None
        if rejects is not None:
            m.checkpoints.export_rejects(rejects)
            written = str(rejects)
        report = CopyReport(
            m.job,
            m.path,
            m.path_reason,
            rows,
            rejected,
            seconds,
            rows / seconds if seconds > 0 else 0.0,
            count,
            resumed,
            state.start_pos,
            written,
        )
        log.info(
            "copy_finished", job=m.job, rows=rows, rejected=rejected, seconds=round(seconds, 3)
        )
        return report


def _bounds(m: Migration, workers: int) -> list[Any]:
    """Slice boundaries: None, then a key every 1/workers of the rows, then None."""
    if workers <= 1:
        return [None, None]
    src = m.db_source
    assert m.source_table is not None
    total = src.count(m.source_table)
    order = src.key_order(m.mapping.source.key, m.key_is_text)
    bounds: list[Any] = [None]
    for i in range(1, workers):
        key = src.scalar(
            f"SELECT {ident(m.mapping.source.key)} FROM {m.source_table.sql} ORDER BY {order} "
            f"LIMIT 1 OFFSET {total * i // workers}"
        )
        if key is not None and key not in bounds:
            bounds.append(key)
    bounds.append(None)
    return bounds


# ---------------------------------------------------------------- one process


def copy_slices(
    m: Migration,
    indexes: Sequence[int],
    chunk_rows: int,
    throttle: Throttle,
    progress: ProgressFn | None = None,
) -> None:
    """Copy the given slices to the end, chunk by chunk (the loop every worker runs)."""
    parent = os.getppid()
    if m.target.dialect == "postgresql":
        # A chunk and its checkpoint commit together, and a server crash loses only the last
        # transactions (WAL order), so chunk commits need not wait for the disk: at worst the
        # last chunks are copied again. The copy's end (`finish_copy`) commits durably.
        m.target.execute("SET synchronous_commit = off")
    rate = Rate()
    total = m.db_source.estimate(m.source_table) if m.source_table else None
    counted = [sum(s.rows + s.rejected for s in m.checkpoints.slices())]
    last_report = [0.0]
    with _probe(m, throttle) as probe:
        governor = throttle.start(probe)
        slept = _copy_loop(
            m, indexes, chunk_rows, governor, counted, last_report, rate, total, progress, parent
        )
    if progress:
        progress(_copy_progress(m, rate, total, slept))


@contextmanager
def _probe(m: Migration, throttle: Throttle) -> Iterator[Callable[[], int] | None]:
    """The source's write counter, on a connection of its own, for an adaptive throttle."""
    if throttle.keep_writes is None or m.changelog is None or not m.changelog.installed():
        yield None
        return
    db = open_store(m.endpoints[0].config, m.endpoints[0].label)
    try:
        yield Changelog(db, m.log.table, m.log.key).counter
    finally:
        db.close()


def _copy_loop(
    m: Migration,
    indexes: Sequence[int],
    chunk_rows: int,
    governor: Governor,
    counted: list[int],
    last_report: list[float],
    rate: Rate,
    total: int | None,
    progress: ProgressFn | None,
    parent: int,
) -> float:
    slept = [0.0]

    def tick(rows: int) -> None:
        counted[0] += rows
        if os.getppid() != parent:
            raise MigrationError(
                "the process that started this worker is gone", store=m.target.label
            )
        if progress and time.monotonic() - last_report[0] >= PROGRESS_EVERY_S:
            last_report[0] = time.monotonic()
            speed = rate.add(counted[0])
            progress(
                Progress(
                    phase="copy",
                    path=m.path,
                    rows_done=counted[0],
                    rows_total=total,
                    rows_per_s=speed,
                    eta_s=eta(counted[0], total, speed),
                    throttled_s=slept[0],
                    elapsed_s=rate.elapsed,
                )
            )

    for index in indexes:
        while True:
            current = _slice(m, index)
            if current is None or current.done:
                break
            if m.path == "sql":
                began = time.monotonic()
                rows = _sql_chunk(m, current, chunk_rows)
                slept[0] += governor.pause(time.monotonic() - began)
                tick(rows)
            else:
                slept[0] += _python_slice(m, current, chunk_rows, governor, tick)
    return slept[0]


def _slice(m: Migration, index: int) -> Slice | None:
    for s in m.checkpoints.slices():
        if s.index == index:
            return s
    return None


def _copy_progress(m: Migration, rate: Rate, total: int | None, slept: float) -> Progress:
    slices = m.checkpoints.slices()
    done = sum(s.rows + s.rejected for s in slices)
    speed = rate.add(done)
    return Progress(
        phase="copy",
        path=m.path,
        rows_done=done,
        rows_total=total,
        rows_per_s=speed,
        eta_s=eta(done, total, speed),
        rejected=sum(s.rejected for s in slices),
        throttled_s=slept,
        elapsed_s=rate.elapsed,
    )


def _range_sql(m: Migration, key_expr: str, lo: Any, hi: Any, ph: str) -> tuple[str, list[Any]]:
    where, params = [], []
    if lo is not None:
        where.append(f"{key_expr} > {ph}")
        params.append(lo)
    if hi is not None:
        where.append(f"{key_expr} <= {ph}")
        params.append(hi)
    return (" AND ".join(where) or "TRUE"), params


def _sql_chunk(m: Migration, s: Slice, chunk_rows: int) -> int:
    """One chunk entirely inside the target's server: INSERT ... SELECT with the transform."""
    db = m.target
    src = m.reached_source()
    key = m.mapping.source.key
    order = db.key_order(key, m.key_is_text)
    key_expr = "s." + order
    where, params = _range_sql(m, key_expr, s.start, s.hi, db.ph)
    end, n = db.query(
        f"SELECT max({ident(key)}), count(*) FROM (SELECT s.{ident(key)} FROM {src.sql} s "
        f"WHERE {where} ORDER BY {key_expr} LIMIT {int(chunk_rows)}) c",
        params,
    )[0]
    done = n < chunk_rows
    sql = m.sql(db)
    cols = ", ".join(ident(c) for c in sql.columns)
    with db.transaction():
        if not m.checkpoints.claim(s.index, s.last):
            return 0
        if end is None:
            m.checkpoints.advance(s.index, s.last, 0, 0, True)
            return 0
        where, params = _range_sql(m, key_expr, s.start, end, db.ph)
        copied = db.execute(
            f"INSERT INTO {m.target_table.sql} ({cols}) SELECT {', '.join(sql.exprs)} "
            f"FROM {src.sql} s WHERE {where} AND ({sql.reason}) IS NULL",
            params,
        )
        # every row of the range was copied unless some failed cleansing (or were deleted
        # meanwhile): only then look for rejects, so a clean chunk costs one scan
        rejected = _sql_rejects(m, db, src.sql, where, params, sql.reason) if copied < n else 0
        m.checkpoints.advance(s.index, end, copied, rejected, done)
    return copied + rejected


def _sql_rejects(
    m: Migration, db: Database, src_sql: str, where: str, params: list[Any], reason: str
) -> int:
    key = ident(m.mapping.source.key)
    if db.dialect == "postgresql":
        row = "row_to_json(s)::text"
        now = "extract(epoch FROM clock_timestamp())"
    else:
        pairs = ", ".join(f"'{c}', s.{ident(c)}" for c in m.mapping.source_columns)
        row = f"json_object({pairs})"
        now = "(julianday('now') - 2440587.5) * 86400.0"
    ph = db.ph
    return db.execute(
        f"INSERT INTO {m.checkpoints.rejects_t.sql} (job, key, reason, row, at) "
        f"SELECT {ph}, CAST(s.{key} AS TEXT), {reason}, {row}, {now} FROM {src_sql} s "
        f"WHERE {where} AND ({reason}) IS NOT NULL "
        "ON CONFLICT (job, key) DO UPDATE SET reason = excluded.reason, row = excluded.row, at = excluded.at",
        [m.job, *params],
    )


def _python_slice(
    m: Migration, s: Slice, chunk_rows: int, governor: Governor, tick: Callable[[int], None]
) -> float:
    """A slice through this process as a pipeline: a thread reads the next chunk from the
    source while this one transforms, and a thread writes each chunk with its checkpoint.
    Writes stay in order; if another worker moved the slice, the pipeline stops (the caller
    re-reads the slice and carries on). Returns the seconds the throttle slept."""
    src, target = m.db_source, m.target
    assert m.source_table is not None
    key = m.mapping.source.key
    key_expr = src.key_order(key, m.key_is_text)
    key_at = m.mapping.source_columns.index(key)
    cols = ", ".join(ident(c) for c in m.mapping.source_columns)
    pg_target = isinstance(target, PostgresDatabase)
    transform = m.compiled.row_copy if pg_target else m.compiled.row

    def read(after: Any) -> list[tuple[Any, ...]]:
        where, params = _range_sql(m, key_expr, after, s.hi, src.ph)
        select = (
            f"SELECT {cols} FROM {m.source_table.sql} WHERE {where} "  # type: ignore[union-attr]
            f"ORDER BY {key_expr} LIMIT {int(chunk_rows)}"
        )
        # PostgreSQL's binary protocol hands over typed tuples fastest (measured: ~2x COPY out)
        if isinstance(src, PostgresDatabase):
            return src.query_binary(select, params)
        return src.query(select, params)

    writes: queue.Queue[_Chunk | None] = queue.Queue(maxsize=2)
    stop = threading.Event()
    failure: list[BaseException] = []

    def write(chunk: _Chunk) -> None:
        with target.transaction():
            if not m.checkpoints.claim(s.index, chunk.start):
                stop.set()  # another worker moved this slice on
                return
            if chunk.out and isinstance(target, PostgresDatabase):
                text = "\n".join(chunk.out) + "\n"
                target.copy_in(m.target_table, m.mapping.target_columns, text)
            elif chunk.out:
                target.insert_rows(m.target_table, m.mapping.target_columns, chunk.out)
            m.checkpoints.add_rejects(chunk.rejects)
            m.checkpoints.advance(
                s.index, chunk.end, len(chunk.out), len(chunk.rejects), chunk.done
            )

    def writer() -> None:
        while (chunk := writes.get()) is not None:
            try:
                if not stop.is_set():
                    write(chunk)
            except BaseException as exc:
                failure.append(exc)
                stop.set()
            finally:
                writes.task_done()

    thread = threading.Thread(target=writer, name="copy-writer", daemon=True)
    thread.start()
    slept = 0.0
    reader = ThreadPoolExecutor(1, thread_name_prefix="copy-reader")
    try:
        start = s.last
        pending = reader.submit(read, s.start)
        while not stop.is_set():
            began = time.monotonic()
            rows = pending.result()
            done = len(rows) < chunk_rows
            end = rows[-1][key_at] if rows else start
            if not done:
                pending = reader.submit(read, end)
            out: list[Any] = []
            rejects: list[tuple[Any, str, dict[str, Any]]] = []
            for row in rows:
                result = transform(row)
                if result.__class__ is Reject:
                    source_row = dict(zip(m.mapping.source_columns, row, strict=True))
                    rejects.append((row[key_at], str(result), source_row))
                else:
                    out.append(result)
            writes.put(_Chunk(start, end, out, rejects, done))
            if governor.ratio > 0 or governor.probe is not None:
                _drained(writes, stop)  # the pause must be a pause for the source, not just for us
            slept += governor.pause(time.monotonic() - began)
            tick(len(rows))
            if done:
                break
            start = end
    finally:
        writes.put(None)
        thread.join()
        reader.shutdown(wait=True)
    if failure:
        raise failure[0]
    return slept


def _drained(writes: queue.Queue[_Chunk | None], stop: threading.Event) -> None:
    """Wait until the writer has taken every queued chunk and finished writing it."""
    while not stop.is_set() and writes.unfinished_tasks:
        time.sleep(0.001)


@dataclass
class _Chunk:
    """A transformed chunk on its way to the writer."""

    start: Any
    end: Any
    out: list[Any]
    rejects: list[tuple[Any, str, dict[str, Any]]]
    done: bool


# -------------------------------------------------------------- many processes


def _copy_in_workers(
    m: Migration,
    pending: list[int],
    workers: int,
    chunk_rows: int,
    throttle: Throttle,
    progress: ProgressFn | None,
) -> None:
    """Run slices in workers (threads for the SQL path, processes for Python); the parent
    reports progress from the checkpoints."""
    groups = [pending[i::workers] for i in range(workers) if pending[i::workers]]
    src, dst = m.endpoints
    rate = Rate()
    total = m.db_source.estimate(m.source_table) if m.source_table else None
    errors: list[str | None] = []
    # the SQL path's work happens in the server: threads (each with its own connections)
    # are enough; the Python path transforms here, so it needs processes
    pool: Executor = (
        ThreadPoolExecutor(len(groups), thread_name_prefix="copy")
        if m.path == "sql"
        else ProcessPoolExecutor(len(groups), mp_context=multiprocessing.get_context("spawn"))
    )
    with pool:
        futures = [
            pool.submit(_worker, src, dst, m.mapping, m.job, m.path, group, chunk_rows, throttle)
            for group in groups
        ]
        while not all(f.done() for f in futures):
            wait(futures, timeout=PROGRESS_EVERY_S)
            if progress:
                progress(_copy_progress(m, rate, total, 0.0))
        for future in futures:
            try:
                errors.append(future.result())
            except BrokenProcessPool:
                errors.append("a worker process died")
    problems = [e for e in errors if e]
    if problems:
        raise MigrationError(
            f"a copy worker failed: {problems[0]} (run again to resume)", store=m.target.label
        )
    if progress:
        progress(_copy_progress(m, Rate(), total, 0.0))


def _worker(
    source: Endpoint,
    target: Endpoint,
    mapping: Mapping,
    job: str,
    path: str,
    indexes: list[int],
    chunk_rows: int,
    throttle: Throttle,
) -> str | None:
    """A worker: open its own connections, copy its slices; an error as text."""
    try:
        forced: PathChoice = "sql" if path == "sql" else "python"
        with Migration.open(source, target, mapping, job=job, path=forced) as m:
            m.source_started()
            copy_slices(m, indexes, chunk_rows, throttle)
        return None
    except CutoverError as exc:
        return str(exc)
    except Exception as exc:  # a bug: report it to the parent rather than hang it
        return f"{type(exc).__name__}: {exc}"
