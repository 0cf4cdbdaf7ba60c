"""The copy's throttle: a duty cycle that leaves the source room for live traffic.

Like gh-ost's `--nice-ratio`: after each chunk that took `t` seconds, the copy
sleeps `nice_ratio * t`, so it works `1 / (1 + nice_ratio)` of the time. And like
gh-ost's throttle flag file: while `flag_file` exists, the copy waits (an operator's
brake that needs no restart). Measured on a 2-core machine (bench/migrate.py): a
copy at full speed roughly halves the single-row write rate of live traffic; with the
default ratio the writers keep at least 0.8 of their rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_NICE_RATIO = 1.0
"""Sleep as long as each chunk took: the copy runs half the time."""


@dataclass(frozen=True)
class Throttle:
    """How politely the snapshot copy shares the source with live traffic."""

    nice_ratio: float = DEFAULT_NICE_RATIO
    flag_file: str | None = None
    """While this file exists, the copy pauses between chunks."""

    @classmethod
    def off(cls) -> Throttle:
        return cls(nice_ratio=0.0)

    def pause(self, chunk_seconds: float) -> float:
        """Sleep after a chunk as the throttle says; returns the seconds slept."""
        slept = 0.0
        if self.nice_ratio > 0 and chunk_seconds > 0:
            delay = self.nice_ratio * chunk_seconds
            time.sleep(delay)
            slept += delay
        if self.flag_file:
            flag = Path(self.flag_file)
            while flag.exists():
                time.sleep(0.2)
                slept += 0.2
        return slept
