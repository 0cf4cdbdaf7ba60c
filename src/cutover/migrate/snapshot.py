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
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from cutover.children import die_with_parent, pool_initargs
from cutover.errors import CutoverError, MigrationError
from cutover.logs import get_logger
from cutover.migrate.capture import Changelog
from cutover.migrate.checkpoint import Slice
from cutover.migrate.chunk import python_slice, sql_chunk
from cutover.migrate.mapping import Mapping
from cutover.migrate.migration import Endpoint, Migration, PathChoice
from cutover.migrate.progress import Progress, ProgressFn, Rate, eta
from cutover.migrate.stores import ident, open_store
from cutover.migrate.throttle import Governor, Throttle

log = get_logger("cutover.migrate.copy")

PROGRESS_EVERY_S = 0.5


def copy_snapshot(
    m: Migration,
    workers: int,
    resumed: bool,
    chunk_rows: int,
    throttle: Throttle,
    progress: ProgressFn | None,
) -> None:
    """Copy every slice not done yet (planning the slices first), then finish the copy."""
    slices = m.checkpoints.slices() or m.checkpoints.plan_slices(_bounds(m, workers))
    pending = [s.index for s in slices if not s.done]
    log.info(
        "copy_started",
        job=m.job,
        path=m.path,
        why=m.path_reason,
        workers=workers,
        slices=len(slices),
        pending=len(pending),
        resumed=resumed,
    )
    if workers > 1 and len(pending) > 1:
        _copy_in_workers(m, pending, workers, chunk_rows, throttle, progress)
    else:
        copy_slices(m, pending, chunk_rows, throttle, progress)
    m.target.restore_durability()
    m.ensure_key()
    m.checkpoints.finish_copy()


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
    # A chunk and its checkpoint commit together, and a server crash loses only the last
    # transactions (WAL order), so chunk commits need not wait for the disk: at worst the
    # last chunks are copied again. The copy's end (`finish_copy`) commits durably.
    m.target.relax_durability()
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
                rows = sql_chunk(m, current, chunk_rows)
                slept[0] += governor.pause(time.monotonic() - began)
                tick(rows)
            else:
                slept[0] += python_slice(m, current, chunk_rows, governor, tick)
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
        else ProcessPoolExecutor(
            len(groups),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=die_with_parent,  # the copy killed -9: no worker copies on unwatched
            initargs=pool_initargs(),
        )
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
