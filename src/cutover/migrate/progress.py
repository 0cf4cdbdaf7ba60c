"""Progress of a data-plane operation, as one value reported to a callback as work goes.

Every field is explained for operators in docs/delta-catch-up.md ("Progress").
The CLI draws them as a rich progress bar; a Prefect flow can turn them into an
artifact; tests collect them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Phase = str
"""`copy`, `catch-up`, `drain` or `verify`."""


@dataclass(frozen=True)
class Progress:
    """Where an operation stands."""

    phase: Phase
    path: str
    rows_done: int = 0
    rows_total: int | None = None
    rows_per_s: float = 0.0
    eta_s: float | None = None
    rejected: int = 0
    applied_pos: int = 0
    head_pos: int = 0
    lag_entries: int = 0
    lag_s: float = 0.0
    throttled_s: float = 0.0
    elapsed_s: float = 0.0

    def line(self) -> str:
        """One plain-text line (logs, non-terminal output)."""
        parts = [f"{self.phase} [{self.path}]", f"rows {self.rows_done:,}"]
        if self.rows_total:
            parts[-1] += f"/{self.rows_total:,}"
        parts.append(f"{self.rows_per_s:,.0f} rows/s")
        if self.eta_s is not None:
            parts.append(f"eta {self.eta_s:,.0f}s")
        if self.rejected:
            parts.append(f"rejected {self.rejected:,}")
        if self.phase in ("catch-up", "drain"):
            parts.append(f"lag {self.lag_entries:,} entries / {self.lag_s:.2f}s")
        if self.throttled_s:
            parts.append(f"throttled {self.throttled_s:,.1f}s")
        return " · ".join(parts)


ProgressFn = Callable[[Progress], None]


class Rate:
    """Rows per second over a sliding window (the last few seconds), for rates and ETAs."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window = window_s
        self.samples: deque[tuple[float, int]] = deque()
        self.started = time.monotonic()

    def add(self, total: int) -> float:
        now = time.monotonic()
        self.samples.append((now, total))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window:
            self.samples.popleft()
        first_t, first_n = self.samples[0]
        if now - first_t <= 0:
            return 0.0
        return (total - first_n) / (now - first_t)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def eta(done: int, total: int | None, rate: float) -> float | None:
    if not total or rate <= 0:
        return None
    return max(0.0, (total - done) / rate)
