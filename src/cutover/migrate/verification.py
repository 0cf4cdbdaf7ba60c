"""Verification: counts, chunked checksums of the transformed projection, conservation.

`verify` opens the job and asks its source (`cutover.migrate.sources`) to compare the
target with it: a table chunk by chunk, by checksums or by a join
(`cutover.migrate.comparer`); a file feed key by key. Rows that fail cleansing must
be in the rejects and absent from the target. Any difference is a
`VerificationError` carrying the report, which lists the members and fields that
differ.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from cutover.errors import VerificationError
from cutover.logs import get_logger
from cutover.migrate.comparer import DEFAULT_CHUNK_ROWS
from cutover.migrate.diff import ALL_CHECKS, VerifyReport
from cutover.migrate.mapping import MappingRef
from cutover.migrate.migration import Endpoint, Migration
from cutover.migrate.sources import source_of
from cutover.plan.models import Store

__all__ = ["ALL_CHECKS", "DEFAULT_CHUNK_ROWS", "run_verify", "verify"]

log = get_logger("cutover.migrate.verify")


def verify(
    source: Store | Endpoint,
    target: Store | Endpoint,
    mapping: MappingRef,
    *,
    job: str | None = None,
    checks: Sequence[str] = ALL_CHECKS,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    raise_on_mismatch: bool = True,
) -> VerifyReport:
    """Compare source and target completely; `VerificationError` (carrying the report) on any difference.

    Run it while the source is frozen (or after `final_drain`, which verifies for you):
    a change not yet applied is a difference.
    """
    with Migration.open(source, target, mapping, job=job) as m:
        m.source_started()
        report = run_verify(m, checks=checks, chunk_rows=chunk_rows)
    if raise_on_mismatch and not report.ok:
        raise VerificationError(
            report.summary() + ": " + "; ".join(report.problems[:5]), report=report
        )
    return report


def run_verify(
    m: Migration, *, checks: Sequence[str] = ALL_CHECKS, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> VerifyReport:
    started = time.monotonic()
    report = source_of(m).verify(m, checks, chunk_rows)
    report.seconds = time.monotonic() - started
    log.info(
        "verified",
        job=m.job,
        ok=report.ok,
        rows=report.source_rows,
        chunks=report.chunks,
        seconds=round(report.seconds, 3),
        problems=len(report.problems),
    )
    return report
