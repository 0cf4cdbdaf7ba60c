"""The one interface copy and verification use for where a job's rows come from.

A `Source` copies its rows into the target (resuming a job under way) and verifies the
target against them. Two implementations: a table in a database store
(`sources/table.py`: key-ordered chunks, change capture, checksums) and a CSV file
feed (`sources/feed.py`: file order, by key). `cutover.migrate.copy` and
`cutover.migrate.verification` pick one with `source_of` and know nothing else of
either.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cutover.migrate.progress import ProgressFn
from cutover.migrate.throttle import Throttle

if TYPE_CHECKING:
    from cutover.migrate.diff import VerifyReport
    from cutover.migrate.migration import Migration


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


@dataclass(frozen=True)
class CopyOptions:
    """How `run_copy` was asked to copy."""

    started: float
    """When the copy was asked for (`time.monotonic()`, before the stores were opened)."""
    chunk_rows: int
    throttle: Throttle
    workers: int | None = None
    capture: bool = True
    rejects: str | Path | None = None
    progress: ProgressFn | None = None


class Source(ABC):
    """Where a job's rows come from, as the copy and the verification see it."""

    @abstractmethod
    def copy(self, m: Migration, options: CopyOptions) -> CopyReport:
        """Copy (or resume copying) the rows into the target."""

    @abstractmethod
    def verify(self, m: Migration, checks: Sequence[str], chunk_rows: int) -> VerifyReport:
        """Compare the target with the rows; the report lists every difference."""
