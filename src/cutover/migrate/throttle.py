"""The copy's throttle: it leaves the source room for live traffic, measured on live traffic.

A copy at full speed roughly halves the single-row write rate of the systems still
selling (bench/migrate.py measures it). Like gh-ost, the copy works in chunks and
sleeps between them; unlike a fixed duty cycle, the sleep adapts to what the writers
actually get. The changelog counts every write to the captured table, so after each
chunk the governor compares the write rate *while the copy worked* with the rate
*while it slept*, and lengthens or shortens its sleeps (the nice ratio: sleep =
ratio x chunk time) to keep the writers at `keep_writes` of their undisturbed rate.
With no writes at all, the sleeps shrink to nothing: an idle source is copied at
full speed. `keep_writes=None` turns adaptation off (a fixed `nice_ratio`), and a
`flag_file` that exists pauses the copy outright (an operator's brake).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_KEEP_WRITES = 0.9
"""Keep live writes at this share of their rate without the copy: aiming above the promised
0.8 leaves room for what a chunk-by-chunk estimate misses (start-up, the key build at the end)."""
DEFAULT_NICE_RATIO = 1.0
"""Starting sleep per unit of chunk time (adapted from there), or the fixed one."""
MAX_NICE_RATIO = 20.0
MIN_NICE_RATIO = 0.1
"""Adaptive sleeps never vanish entirely: a short one keeps measuring the idle write rate."""
MIN_WRITES_PER_S = 5.0
"""Below this many writes per second the source counts as idle: copy at full speed."""
SMOOTHING = 0.3
"""Weight of the newest measurement in the running write rates."""


@dataclass(frozen=True)
class Throttle:
    """How politely the snapshot copy shares the source with live traffic (the knobs)."""

    keep_writes: float | None = DEFAULT_KEEP_WRITES
    nice_ratio: float = DEFAULT_NICE_RATIO
    flag_file: str | None = None
    """While this file exists, the copy pauses between chunks."""

    @classmethod
    def off(cls) -> Throttle:
        """Full speed: for a source nobody writes to, or a benchmark's baseline."""
        return cls(keep_writes=None, nice_ratio=0.0)

    @classmethod
    def fixed(cls, nice_ratio: float) -> Throttle:
        return cls(keep_writes=None, nice_ratio=nice_ratio)

    def start(self, probe: Callable[[], int] | None) -> Governor:
        """A governor for one copy loop; `probe` reads the source's write counter."""
        return Governor(self, probe if self.keep_writes is not None else None)

    def pause(self, chunk_seconds: float) -> float:
        """A fixed-ratio pause (no measurement); returns the seconds slept."""
        return Governor(self, None).pause(chunk_seconds)


class Governor:
    """The throttle at work: measures, sleeps, adapts. One per copy loop (not shared)."""

    def __init__(self, throttle: Throttle, probe: Callable[[], int] | None) -> None:
        self.throttle = throttle
        self.probe = probe
        self.ratio = throttle.nice_ratio
        self.work_rate: float | None = None
        self.idle_rate: float | None = None
        self.mark = probe() if probe else 0
        self.slept = 0.0

    def pause(self, chunk_seconds: float) -> float:
        """Sleep after a chunk that took `chunk_seconds`; returns the seconds slept."""
        slept = 0.0
        if self.probe is not None and chunk_seconds > 0:
            after_work = self.probe()
            self.work_rate = _blend(self.work_rate, (after_work - self.mark) / chunk_seconds)
            self.mark = after_work
        delay = self.ratio * chunk_seconds
        if delay > 0:
            time.sleep(delay)
            slept += delay
        if self.probe is not None:
            after_sleep = self.probe()
            if delay > 0:
                self.idle_rate = _blend(self.idle_rate, (after_sleep - self.mark) / delay)
            self.mark = after_sleep
            self._adapt()
        if self.throttle.flag_file:
            flag = Path(self.throttle.flag_file)
            while flag.exists():
                time.sleep(0.2)
                slept += 0.2
            if self.probe is not None:
                self.mark = self.probe()
        self.slept += slept
        return slept

    def _adapt(self) -> None:
        keep = self.throttle.keep_writes
        assert keep is not None
        work, idle = self.work_rate, self.idle_rate
        if idle is None or work is None:
            self.ratio = max(self.ratio, 0.5)  # measure an idle period first
            return
        if max(idle, work) < MIN_WRITES_PER_S:
            self.ratio = max(MIN_NICE_RATIO, self.ratio * 0.7)  # nobody is writing: go faster
            return
        # writers get `work` while the copy works and `idle` while it sleeps; over a cycle
        # of 1 + ratio they get (work + ratio * idle) / ((1 + ratio) * idle) of their rate
        share = min(1.0, work / idle) if idle > 0 else 1.0
        achieved = (share + self.ratio) / (1 + self.ratio)
        if achieved < keep:
            # the ratio that would give exactly `keep`, approached by halves
            wanted = (keep - share) / max(1e-6, 1 - keep)
            self.ratio = min(MAX_NICE_RATIO, max(self.ratio * 1.25, (self.ratio + wanted) / 2))
        elif achieved > keep + 0.05:
            self.ratio = max(MIN_NICE_RATIO, self.ratio * 0.9)


def _blend(old: float | None, new: float) -> float:
    return new if old is None else (1 - SMOOTHING) * old + SMOOTHING * new
