"""The systems' time: how long each step's own work took, and the timeline replayed with it.

A step's own work is what lies between its `started` record and its outcome in the
journal (each attempt counted, the waits between attempts not). Everything else —
the time between steps, a Prefect task or flow run starting, a system waiting for a
slot — is orchestration, which a compressed drill would otherwise multiply by its
scale into plan-minutes nobody spent.

`systems_timeline` re-schedules the plan with, for each step, its planned duration
plus only the overrun of its own work (plan time: real seconds times the scale): a
step that ran over pushes what follows it; a step that finished early does not pull
the rest of the plan forward. Lateness, budgets and *extended* notices are judged
on this timeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cutover.journal import StepRecord
from cutover.plan.models import Plan
from cutover.plan.timeline import StepRef, Timeline, build_timeline

ENDED = ("done", "skipped", "failed")


@dataclass(frozen=True)
class OwnWork:
    """One step's own work so far, from its journal records (real time)."""

    status: str
    worked: timedelta
    """Finished attempts: each start to its outcome, summed."""
    running_since: datetime | None
    """The start of the attempt under way, if one is."""

    def so_far(self, real_now: datetime) -> timedelta:
        """Own work up to `real_now`, the attempt under way included."""
        if self.running_since is None:
            return self.worked
        return self.worked + max(real_now - self.running_since, timedelta())


def own_work(history: Iterable[StepRecord], action: str = "do") -> dict[StepRef, OwnWork]:
    """Each step's own work, from its started/outcome records."""
    out: dict[StepRef, OwnWork] = {}
    for record in history:
        if record.action != action:
            continue
        ref = (record.system, record.step)
        seen = out.get(ref, OwnWork("pending", timedelta(), None))
        if record.status == "started":
            out[ref] = OwnWork("started", seen.worked, seen.running_since or record.at)
        elif record.status in ENDED:
            extra = record.at - seen.running_since if seen.running_since else timedelta()
            out[ref] = OwnWork(record.status, seen.worked + max(extra, timedelta()), None)
    return out


def systems_timeline(
    plan: Plan,
    planned: Timeline,
    work: dict[StepRef, OwnWork],
    scale: float,
    real_now: datetime,
) -> Timeline:
    """The timeline as the systems' own work says it goes: planned durations plus overruns."""
    durations: dict[StepRef, timedelta] = {}
    for phase in planned.phases:
        for slot in phase.systems:
            for step in slot.steps:
                ref = (slot.system, step.step)
                done = work.get(ref)
                if done is None:
                    durations[ref] = step.duration
                    continue
                took = done.so_far(real_now) * scale
                durations[ref] = max(step.duration, took)
    return build_timeline(plan, durations)
