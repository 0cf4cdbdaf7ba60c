"""A table in a database store as a source: a checkpointed snapshot copy and chunked checksums.

Copying installs change capture first (so catch-up sees every change the snapshot
might miss), then copies key slices chunk by chunk (`cutover.migrate.snapshot`);
verifying compares key-ordered chunks (`cutover.migrate.comparer`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from cutover.errors import StoreError
from cutover.logs import get_logger
from cutover.migrate.checkpoint import Job
from cutover.migrate.comparer import Comparer
from cutover.migrate.diff import VerifyReport
from cutover.migrate.migration import Migration, default_workers
from cutover.migrate.snapshot import copy_snapshot
from cutover.migrate.sources.base import CopyOptions, CopyReport, Source

log = get_logger("cutover.migrate.copy")


class TableSource(Source):
    """A table of a SQLite or PostgreSQL store."""

    def copy(self, m: Migration, options: CopyOptions) -> CopyReport:
        existing = m.checkpoints.load()
        if existing is None:
            _refuse_foreign_rows(m)
        m.prepare(capture=options.capture)
        state = existing or m.checkpoints.create(
            m.log.safe_position(wait=30.0), m.path, m.log.install_id()
        )
        resumed = existing is not None
        count = options.workers or default_workers(m, full_speed=options.throttle.full_speed)
        if not state.copy_done:
            copy_snapshot(m, count, resumed, options.chunk_rows, options.throttle, options.progress)
        return _report(m, state, count, resumed, options)

    def verify(self, m: Migration, checks: Sequence[str], chunk_rows: int) -> VerifyReport:
        return Comparer(m, list(checks), chunk_rows).run()


def _refuse_foreign_rows(m: Migration) -> None:
    """A new job never writes into a table that already holds rows some other copy wrote."""
    if m.target.columns(m.target_table) is None:
        return
    rows = m.target.count(m.target_table)
    if rows:
        raise StoreError(
            f"target table {m.target_table} already holds {rows:,} rows and no copy of "
            f"job {m.job!r} is recorded there; refusing to mix data (empty it, or name "
            "the job that wrote it)",
            store=m.target.label,
        )


def _report(
    m: Migration, state: Job, count: int, resumed: bool, options: CopyOptions
) -> CopyReport:
    slices = m.checkpoints.slices()
    rows = sum(s.rows for s in slices)
    rejected = m.checkpoints.reject_count()
    seconds = time.monotonic() - options.started
    written = None
    if options.rejects is not None:
        m.checkpoints.export_rejects(options.rejects)
        written = str(options.rejects)
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
    log.info("copy_finished", job=m.job, rows=rows, rejected=rejected, seconds=round(seconds, 3))
    return report
