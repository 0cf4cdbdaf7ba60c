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
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cutover.errors import CutoverError, MigrationError, StoreError
from cutover.logs import get_logger
from cutover.migrate.checkpoint import Slice
from cutover.migrate.mapping import Mapping
from cutover.migrate.migration import Endpoint, Migration, PathChoice, default_workers
from cutover.migrate.postgres import PostgresDatabase
from cutover.migrate.progress import Progress, ProgressFn, Rate, eta
from cutover.migrate.stores import Database
from cutover.migrate.throttle import Throttle
from cutover.migrate.transform import Reject, copy_unescape, ident
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
    rate = Rate()
    total = m.db_source.estimate(m.source_table) if m.source_table else None
    slept = 0.0
    last_report = 0.0
    for index in indexes:
        while True:
            if os.getppid() != parent:
                raise MigrationError(
                    "the process that started this worker is gone", store=m.target.label
                )
            current = _slice(m, index)
            if current is None or current.done:
                break
            began = time.monotonic()
            if m.path == "sql":
                _sql_chunk(m, current, chunk_rows)
            else:
                _python_chunk(m, current, chunk_rows)
            slept += throttle.pause(time.monotonic() - began)
            if progress and time.monotonic() - last_report >= PROGRESS_EVERY_S:
                last_report = time.monotonic()
                progress(_copy_progress(m, rate, total, slept))
    if progress:
        progress(_copy_progress(m, rate, total, slept))


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


def _sql_chunk(m: Migration, s: Slice, chunk_rows: int) -> None:
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
            return
        if end is None:
            m.checkpoints.advance(s.index, s.last, 0, 0, True)
            return
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


def _python_chunk(m: Migration, s: Slice, chunk_rows: int) -> None:
    """One chunk through this process: read, transform, write with the checkpoint."""
    src, target = m.db_source, m.target
    assert m.source_table is not None
    key = m.mapping.source.key
    key_expr = src.key_order(key, m.key_is_text)
    where, params = _range_sql(m, key_expr, s.start, s.hi, src.ph)
    cols = ", ".join(ident(c) for c in m.mapping.source_columns)
    select = (
        f"SELECT {cols} FROM {m.source_table.sql} WHERE {where} "
        f"ORDER BY {key_expr} LIMIT {int(chunk_rows)}"
    )
    key_at = m.mapping.source_columns.index(key)
    rejects: list[tuple[Any, str, dict[str, Any]]] = []
    payload = ""  # COPY text for a PostgreSQL target
    good: list[tuple[Any, ...]] = []  # rows for a SQLite target
    if isinstance(src, PostgresDatabase) and isinstance(target, PostgresDatabase):
        lines = src.copy_out(select, params).split("\n")
        lines.pop()  # the text ends with a newline
        n = len(lines)
        end = _copy_key(lines[-1], key_at, m.key_is_text) if lines else None
        out = []
        transform = m.compiled.copy
        for line in lines:
            result = transform(line)
            if result.__class__ is Reject:
                rejects.append(_reject_from_copy(m, line, result))
            else:
                out.append(result)
        payload = "\n".join(out) + "\n" if out else ""
        written = len(out)
    else:
        rows = src.query(select, params)
        n = len(rows)
        end = rows[-1][key_at] if rows else None
        transform_row = m.compiled.row
        for row in rows:
            out_row = transform_row(row)
            if isinstance(out_row, Reject):
                source_row = dict(zip(m.mapping.source_columns, row, strict=True))
                rejects.append((row[key_at], str(out_row), source_row))
            else:
                good.append(out_row)
        written = len(good)
        if isinstance(target, PostgresDatabase):
            fmt = m.compiled.format_copy
            payload = "".join(fmt(r) + "\n" for r in good)
    with target.transaction():
        if not m.checkpoints.claim(s.index, s.last):
            return  # another worker moved this slice on: re-read and carry on
        if isinstance(target, PostgresDatabase):
            if payload:
                target.copy_in(m.target_table, m.mapping.target_columns, payload)
        elif good:
            target.insert_rows(m.target_table, m.mapping.target_columns, good)
        m.checkpoints.add_rejects(rejects)
        m.checkpoints.advance(s.index, end if n else s.last, written, len(rejects), n < chunk_rows)


def _copy_key(line: str, index: int, text: bool) -> Any:
    value = line.split("\t", index + 1)[index]
    if not text:
        return int(value)
    return copy_unescape(value) if "\\" in value else value


def _reject_from_copy(m: Migration, line: str, reason: str) -> tuple[Any, str, dict[str, Any]]:
    fields = [None if f == "\\N" else copy_unescape(f) for f in line.split("\t")]
    row = dict(zip(m.mapping.source_columns, fields, strict=True))
    key = row[m.mapping.source.key]
    typed = int(key) if key is not None and not m.key_is_text else key
    return typed, str(reason), row


# -------------------------------------------------------------- many processes


def _copy_in_workers(
    m: Migration,
    pending: list[int],
    workers: int,
    chunk_rows: int,
    throttle: Throttle,
    progress: ProgressFn | None,
) -> None:
    """Run slices in worker processes; the parent reports progress from the checkpoints."""
    ctx = multiprocessing.get_context("spawn")
    groups = [pending[i::workers] for i in range(workers) if pending[i::workers]]
    src, dst = m.endpoints
    rate = Rate()
    total = m.db_source.estimate(m.source_table) if m.source_table else None
    errors: list[str | None] = []
    with ProcessPoolExecutor(len(groups), mp_context=ctx) as pool:
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
    """A worker process: open its own connections, copy its slices; an error as text."""
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
