"""Fault knobs for drills: errors, latency, a crash on a named call, a slow drain.

Set per system at runtime with `PUT /systems/<id>/sim/v1/faults` (or
`cutover estate serve --fault SYSTEM:knob=value`); they live in memory only, so
a restart clears them. Call names: health, state, freeze, unfreeze, switch, jobs,
verify, custom (a plan's own http step), transactions, members.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CALLS = (
    "health",
    "state",
    "freeze",
    "unfreeze",
    "switch",
    "jobs",
    "verify",
    "custom",
    "transactions",
    "members",
)
CallName = Literal[
    "health",
    "state",
    "freeze",
    "unfreeze",
    "switch",
    "jobs",
    "verify",
    "custom",
    "transactions",
    "members",
]


class Faults(BaseModel):
    """What goes wrong on purpose, per system. The defaults: nothing."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    calls: list[CallName] = Field(
        default_factory=list, description="calls the error knobs apply to; empty: every call"
    )
    error_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="share answered with an error"
    )
    fail_next: int = Field(default=0, ge=0, le=1_000_000, description="the next N calls fail")
    fail_status: Literal[429, 500, 502, 503, 504] = 503
    retry_after: int | None = Field(default=None, ge=0, le=3600, description="Retry-After sent")
    latency_ms: int = Field(default=0, ge=0, le=60_000, description="added to every call")
    crash_on: CallName | None = Field(default=None, description="crash on this call")
    crash_times: int = Field(default=1, ge=0, le=1000)
    crash_after: bool = Field(
        default=True, description="act first, then crash (the answer is lost, the effect is not)"
    )
    crash_exit: bool = Field(
        default=False,
        description="crash the whole estate process (os._exit); else drop the connection only",
    )
    drain_delay_ms: int = Field(default=0, ge=0, le=10_000, description="per write replayed")
    seed: int = 0


class FaultState:
    """The live knobs of one system and the counters they consume."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.set(faults or Faults())

    def set(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._fail_left = faults.fail_next
        self._crash_left = faults.crash_times if faults.crash_on else 0

    def error_for(self, call: str) -> int | None:
        """The status to fail `call` with, or None to let it through."""
        f = self.faults
        if f.calls and call not in f.calls:
            return None
        if self._fail_left > 0:
            self._fail_left -= 1
            return f.fail_status
        if f.error_rate and self._rng.random() < f.error_rate:
            return f.fail_status
        return None

    def crashes(self, call: str) -> bool:
        """Whether `call` must crash now (consumes one crash)."""
        if self._crash_left > 0 and self.faults.crash_on == call:
            self._crash_left -= 1
            return True
        return False
