"""Where a migration job stands, read from the stores themselves (any process can ask).

Nothing is kept in memory between calls: the copy's slices, the applied position and
the rejects are in the target; the changelog and its head are in the source. So
`cutover migrate status` run anywhere that reaches both stores tells the truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cutover.migrate.capture import CaptureStatus, Changelog
from cutover.migrate.checkpoint import Slice
from cutover.migrate.mapping import MappingRef
from cutover.migrate.migration import Endpoint, Migration
from cutover.plan.models import Store


@dataclass(frozen=True)
class JobStatus:
    """A migration job as the stores record it."""

    job: str
    path: str
    path_reason: str
    started: bool
    copy_done: bool
    rows_copied: int
    rejected: int
    slices: list[Slice] = field(default_factory=list)
    start_pos: int = 0
    applied_pos: int = 0
    applied_entries: int = 0
    capture: CaptureStatus | None = None
    lag_entries: int = 0
    lag_s: float = 0.0
    reverse_capture: CaptureStatus | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def status(
    source: Store | Endpoint,
    target: Store | Endpoint,
    mapping: MappingRef,
    *,
    job: str | None = None,
) -> JobStatus:
    """Read a job's state from its stores; writes nothing."""
    with Migration.open(source, target, mapping, job=job) as m:
        state = m.checkpoints.load()
        slices = m.checkpoints.slices()
        capture = m.changelog.status() if m.changelog is not None else None
        lag_entries, lag_s = 0, 0.0
        if state is not None and capture is not None and capture.installed:
            lag_entries, lag_s = m.log.lag(state.applied_pos)
        reverse = None
        if m.target.columns(m.target_table) is not None:
            reverse = Changelog(m.target, m.target_table, m.mapping.target.key).status()
        return JobStatus(
            job=m.job,
            path=state.path if state else m.path,
            path_reason=m.path_reason
            if state is None or state.path == m.path
            else "chosen when the copy started",
            started=state is not None,
            copy_done=bool(state and state.copy_done),
            rows_copied=sum(s.rows for s in slices),
            rejected=m.checkpoints.reject_count(),
            slices=slices,
            start_pos=state.start_pos if state else 0,
            applied_pos=state.applied_pos if state else 0,
            applied_entries=state.applied_entries if state else 0,
            capture=capture,
            lag_entries=lag_entries,
            lag_s=lag_s,
            reverse_capture=reverse,
        )


def write_rejects(
    source: Store | Endpoint,
    target: Store | Endpoint,
    mapping: MappingRef,
    path: str | Path,
    *,
    job: str | None = None,
) -> int:
    """Write the job's reject file (JSON lines, sorted); returns how many rows it lists."""
    with Migration.open(source, target, mapping, job=job) as m:
        return m.checkpoints.export_rejects(path, key_name="line" if m.is_feed else "key")
