"""Lint of the windows to avoid: a plan that cannot keep its freezes out of them is refused.

`cutover.plan.lint` builds each environment's timeline twice, with the windows and
without (`build_timeline(avoid=False)`), checks phase starts and budgets on the
plain one, and asks here what the windows change:

- a cut (freeze → unfreeze) longer than every gap between its windows: refused at
  the freeze step;
- a push that makes a phase end after the next phase is due, or a feature's outage
  longer than its budget, when the plan without windows keeps both: refused at the
  `avoid:` entry that pushed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from cutover.errors import Problem
from cutover.plan.durations import format_duration
from cutover.plan.models import Plan
from cutover.plan.timeline import StepSlot, Timeline

At = Callable[[tuple[str | int, ...], str], Problem]


def window_problems(plan: Plan, timeline: Timeline, plain: Timeline, at: At) -> Iterator[Problem]:
    """What the windows to avoid break, each at the line that says it."""
    pushes = timeline.pushes
    if not pushes:
        return
    for slot in pushes:
        assert slot.push is not None
        if not slot.push.fits:
            yield at(
                _step_path(plan, slot),
                f"{slot.system} · {slot.step}: its cut (freeze → unfreeze, "
                f"{format_duration(slot.push.length)}) cannot avoid {slot.push.window!r}: no "
                "gap between the windows to avoid is that long; shorten the cut, split it over "
                "two phases, or narrow the window",
            )
    yield from _late_phases(plan, timeline, plain, at)
    yield from _budgets(plan, timeline, plain, at)


def _late_phases(plan: Plan, timeline: Timeline, plain: Timeline, at: At) -> Iterator[Problem]:
    for i, (slot, before) in enumerate(zip(timeline.phases[:-1], plain.phases[:-1], strict=True)):
        due = timeline.phases[i + 1].scheduled
        if slot.end <= due or before.end > due:
            continue  # on time, or late without any window (the phase-start rule says so)
        mine = [st for s in slot.systems for st in s.steps if st.push and st.push.fits]
        if not mine:
            continue
        push = mine[-1]
        assert push.push is not None
        nxt = plan.phases[i + 1]
        yield at(
            push.push.where,
            f"avoiding {push.push.window!r} pushes {push.system}'s cut from "
            f"{_hm(plan, push.push.planned)} to {_hm(plan, push.start)}, so phase {slot.phase!r} "
            f"ends at {_hm(plan, slot.end)}, after phase {nxt.id!r} is due "
            f"(+{format_duration(nxt.starts)}, {_hm(plan, due)}): start {nxt.id!r} later or "
            "plan the cut clear of the window",
        )


def _budgets(plan: Plan, timeline: Timeline, plain: Timeline, at: At) -> Iterator[Problem]:
    for budget in plan.budgets:
        if budget.feature not in {f.id for f in plan.features}:
            continue
        longest = timeline.feature(budget.feature).longest
        before = plain.feature(budget.feature).longest
        if longest is None or longest.duration <= budget.max_outage:
            continue
        if before is not None and before.duration > budget.max_outage:
            continue  # broken without any window: the budget rule says so
        pushed = [p for p in timeline.pushes if p.system in longest.systems and p.push]
        if not pushed or pushed[0].push is None:
            continue
        yield at(
            pushed[0].push.where,
            f"avoiding {pushed[0].push.window!r} pushes {pushed[0].system}'s cut so that "
            f"feature {budget.feature!r} is down {format_duration(longest.duration)} in one "
            f"window, over its budget of {format_duration(budget.max_outage)}",
        )


def _step_path(plan: Plan, slot: StepSlot) -> tuple[str | int, ...]:
    si = next(i for i, s in enumerate(plan.systems) if s.id == slot.system)
    ti = next(i for i, s in enumerate(plan.systems[si].steps) if s.key == slot.step)
    return ("systems", si, "steps", ti)


def _hm(plan: Plan, moment: datetime) -> str:
    return moment.astimezone(plan.zone).strftime("%a %H:%M")
