"""The copy's throttle: it leaves the source room for live traffic, measured on live traffic.

A copy at full speed roughly halves the single-row write rate of the systems still
selling (bench/migrate.py measures it). Like gh-ost, the copy works in chunks and
sleeps between them; unlike a fixed duty cycle, the sleep adapts to what the writers
actually get. The changelog counts every write to the captured table, so the governor
knows the writers' undisturbed rate (measured in a short quiet window) and their rate
over each cycle of chunk + sleep, and lengthens or shortens its sleeps (the nice ratio:
sleep = ratio x chunk time) to keep the writers at `keep_writes` of their own pace.
With no writes at all, the sleeps shrink to nothing: an idle source is copied at
full speed. `keep_writes=None` turns adaptation off (a fixed `nice_ratio`), and a
`flag_file` that exists pauses the copy outright (an operator's brake).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_KEEP_WRITES = 0.95
"""Keep live writes at this share of their rate without the copy: aiming above the promised
0.8 leaves room for what a chunk-by-chunk estimate misses (start-up, the key build at the end)."""
DEFAULT_NICE_RATIO = 1.0
"""Starting sleep per unit of chunk time (adapted from there), or the fixed one."""
MAX_NICE_RATIO = 20.0
MIN_NICE_RATIO = 0.1
START_NICE_RATIO = 3.0
"""With live writes measured at the start, the copy begins at this ratio and speeds up."""
"""Adaptive sleeps never vanish entirely: a short one keeps measuring the idle write rate."""
MIN_WRITES_PER_S = 5.0
"""Below this many writes per second the source counts as idle: copy at full speed."""
SMOOTHING = 0.3
"""Weight of the newest cycle in the running write rate."""
CALIBRATE_S = 0.5
"""The quiet window that measures the writers' undisturbed rate, before the first chunk...
(0.25 s gave references off by up to 40% on this machine, and a throttle that trusted them)"""
RECALIBRATE_S = 20.0
"""...and again every this many seconds, so the reference follows the traffic."""


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

    @property
    def full_speed(self) -> bool:
        """Whether the copy never sleeps (no adaptation, no fixed pause, no brake)."""
        return self.keep_writes is None and self.nice_ratio <= 0 and self.flag_file is None

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
    """The throttle at work: measures, sleeps, adapts. One per copy loop (not shared).

    Before the first chunk it measures the writers' undisturbed rate (a short quiet
    window, repeated every `RECALIBRATE_S` so the reference follows the day's traffic).
    After each chunk and its sleep it compares the writers' rate over that cycle with
    `keep_writes` x the reference, and lengthens or shortens the sleeps. Measuring whole
    cycles, not just the moments the copy works, counts the disturbance that lingers
    after a chunk (the server still flushing what it wrote).
    """

    def __init__(self, throttle: Throttle, probe: Callable[[], int] | None) -> None:
        self.throttle = throttle
        self.probe = probe
        self.ratio = throttle.nice_ratio
        self.reference: float | None = None
        self.cycle_rate: float | None = None
        self.slept = 0.0
        self.calibrated_at = 0.0
        self.mark = 0
        self.mark_at = 0.0
        if probe is not None:
            self._calibrate()
            if (self.reference or 0.0) >= MIN_WRITES_PER_S:
                # live traffic: start polite and speed up, rather than learn by hurting it
                self.ratio = max(self.ratio, START_NICE_RATIO)

    def _calibrate(self) -> None:
        assert self.probe is not None
        before = self.probe()
        time.sleep(CALIBRATE_S)
        self.slept += CALIBRATE_S
        after = self.probe()
        self.reference = (after - before) / CALIBRATE_S
        self.calibrated_at = time.monotonic()
        self.mark, self.mark_at = after, time.monotonic()

    def pause(self, chunk_seconds: float) -> float:
        """Sleep after a chunk that took `chunk_seconds`; returns the seconds slept."""
        slept = 0.0
        delay = self.ratio * chunk_seconds
        if delay > 0:
            time.sleep(delay)
            slept += delay
        if self.probe is not None:
            self._adapt()
            if time.monotonic() - self.calibrated_at > RECALIBRATE_S:
                before = self.slept
                self._calibrate()
                slept += self.slept - before
                self.slept = before
        if self.throttle.flag_file:
            flag = Path(self.throttle.flag_file)
            while flag.exists():
                time.sleep(0.2)
                slept += 0.2
            if self.probe is not None:
                self.mark, self.mark_at = self.probe(), time.monotonic()
        self.slept += slept
        return slept

    def _adapt(self) -> None:
        assert self.probe is not None and self.throttle.keep_writes is not None
        now, count = time.monotonic(), self.probe()
        elapsed = now - self.mark_at
        if elapsed <= 0:
            return
        rate = (count - self.mark) / elapsed
        self.mark, self.mark_at = count, now
        self.cycle_rate = (
            rate
            if self.cycle_rate is None
            else ((1 - SMOOTHING) * self.cycle_rate + SMOOTHING * rate)
        )
        reference = self.reference or 0.0
        if reference < MIN_WRITES_PER_S:
            self.ratio = max(MIN_NICE_RATIO, self.ratio * 0.7)  # nobody is writing: go faster
            return
        achieved = self.cycle_rate / reference
        if achieved < self.throttle.keep_writes:
            self.ratio = min(MAX_NICE_RATIO, self.ratio * 1.5 + 0.2)
        elif achieved > self.throttle.keep_writes + 0.05:
            self.ratio = max(MIN_NICE_RATIO, self.ratio * 0.85)
