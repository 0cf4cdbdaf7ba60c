"""Loading a file feed into the target: chunks in file order, upserted, checkpointed.

A sample file, a full feed and a delta file are each their own job (the job id
carries the file's name and fingerprint). Rows are upserted by key, so the full feed
may land on top of the sample and the delta on top of the full feed; within a chunk
the last row for a key wins, as it would row by row, and a delete (a delta file's
change column, `feeds.deleted_key`) removes the key. A row that fails cleansing is
recorded with its line number and reason and changes nothing in the target.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover.logs import get_logger
from cutover.migrate.feeds import Feed, deleted_key, reorder
from cutover.migrate.progress import Progress, ProgressFn, Rate, eta
from cutover.migrate.transform import Reject

if TYPE_CHECKING:
    from cutover.migrate.copy import CopyReport
    from cutover.migrate.migration import Migration

log = get_logger("cutover.migrate.feed")


def load_feed(
    m: Migration,
    *,
    chunk_rows: int,
    rejects: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> CopyReport:
    """Load (or resume loading) a feed into the target; see `run_copy`."""
    from cutover.migrate.copy import CopyReport

    feed = m.source
    assert isinstance(feed, Feed)
    started = time.monotonic()
    existing = m.checkpoints.load()
    m.prepare(capture=False)
    state = existing or m.checkpoints.create(0, "python")
    if not state.copy_done:
        slices = m.checkpoints.slices() or m.checkpoints.plan_slices([None, None])
        _load(m, feed, slices[0].last or 0, chunk_rows, progress)
        m.checkpoints.finish_copy()
    s = m.checkpoints.slices()[0]
    seconds = time.monotonic() - started
    written = None
    if rejects is not None:
        m.checkpoints.export_rejects(rejects, key_name="line")
        written = str(rejects)
    log.info("feed_loaded", job=m.job, rows=s.rows, rejected=s.rejected, seconds=round(seconds, 3))
    return CopyReport(
        m.job,
        "python",
        m.path_reason,
        s.rows,
        s.rejected,
        seconds,
        s.rows / seconds if seconds > 0 else 0.0,
        1,
        existing is not None,
        0,
        written,
    )


def _load(
    m: Migration, feed: Feed, consumed: int, chunk_rows: int, progress: ProgressFn | None
) -> None:
    order = reorder(feed, m.mapping)
    width = len(feed.header)
    header = feed.header
    key_name = m.mapping.target.key
    key_at = m.mapping.target_columns.index(key_name)
    types = list(m.mapping.output_types.values())
    total = feed.count() if progress else None
    rate = Rate()
    transform = m.compiled.csv
    done_rows = consumed
    batch: list[tuple[int, list[str]]] = []

    def flush(final: bool) -> None:
        nonlocal consumed
        good: dict[Any, tuple[Any, ...] | None] = {}  # None: the key is deleted
        rejected: list[tuple[Any, str, dict[str, Any]]] = []
        for line_no, fields in batch:
            raw = dict(zip(header, fields, strict=False))
            if len(fields) != width:
                rejected.append(
                    (line_no, f"the line has {len(fields)} fields, the header {width}", raw)
                )
                continue
            is_delete, key = deleted_key(feed, m.mapping, fields)
            if is_delete:
                if isinstance(key, Reject):
                    rejected.append((line_no, str(key), raw))
                else:
                    good[key] = None
                continue
            values = [fields[i] for i in order] if order else fields
            result = transform(values)
            if isinstance(result, Reject):
                rejected.append((line_no, str(result), raw))
            else:
                good[result[key_at]] = result
        # a chunk's upserts and deletes touch distinct keys (the last line per key won)
        upserts = [row for row in good.values() if row is not None]
        deletes = [key for key, row in good.items() if row is None]
        with m.target.transaction():
            if not m.checkpoints.claim(0, consumed or None):
                raise m.target.fail("another process is loading this feed; let it finish")
            m.target.upsert_rows(m.target_table, m.mapping.target_columns, types, key_name, upserts)
            m.target.delete_keys(m.target_table, key_name, deletes)
            m.checkpoints.add_rejects(rejected)
            m.checkpoints.advance(0, consumed + len(batch), len(good), len(rejected), final)
        consumed += len(batch)
        batch.clear()

    for line_no, fields in feed.rows(consumed):
        batch.append((line_no, fields))
        if len(batch) >= chunk_rows:
            flush(False)
            done_rows = consumed
            if progress:
                speed = rate.add(done_rows)
                progress(
                    Progress(
                        "copy", "python", done_rows, total, speed, eta(done_rows, total, speed)
                    )
                )
    flush(True)
    if progress:
        progress(Progress("copy", "python", consumed, total, rate.add(consumed), 0.0))
