"""The timeline a plan implies: when each phase and step runs, the critical path,
and when each customer feature is degraded.

Scheduling rules (the same ones the cutover flow follows):

- a phase starts at `starts_at + phase.starts`, or when the previous phase ends,
  whichever is later (phases run in order);
- within a phase every system starts at the phase start, or when the last of its
  dependencies *in the same phase* ends, whichever is later (systems run
  concurrently wherever dependencies allow); a system over several phases runs
  in each only the steps of that phase (`Plan.steps_in`);
- a system's steps run one after another, each for its `expected` duration (in
  the run's environment, when the plan gives one per environment), or for a
  measured duration when calibrating from drills;
- a cut (a freeze up to its unfreeze) neither starts inside a window to avoid
  (`avoid:`, `cutover.plan.windows`) nor runs into one: it is pushed to the
  window's end, and what follows it (its system's steps, the systems depending on
  it, the next phase) moves with it; the cut's first step records the `Push`.

A feature is degraded by a system from the start of a `read-only` or `offline`
freeze until the end of the unfreeze that follows it (a `buffer-writes` freeze
degrades nothing), and by any step that lists it in its own `degrades`. Windows
from several systems that overlap or touch are merged into one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cutover.plan.models import FreezeStep, Plan, System, UnfreezeStep
from cutover.plan.order import find_cycle
from cutover.plan.windows import Push, cut_length, push_cut

StepRef = tuple[str, str]
"""(system id, step id)."""


@dataclass(frozen=True)
class StepSlot:
    system: str
    step: str
    kind: str
    start: datetime
    end: datetime
    push: Push | None = None
    """On a cut's first step: the window it was pushed out of, if any."""

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class SystemSlot:
    system: str
    department: str
    phase: str
    start: datetime
    end: datetime
    steps: tuple[StepSlot, ...]
    waits_for: str | None
    """The same-phase dependency whose end decided this system's start, if any."""


@dataclass(frozen=True)
class PhaseSlot:
    phase: str
    scheduled: datetime
    """starts_at + the phase's offset: when the plan says it starts."""
    start: datetime
    """When it can really start: the scheduled time or the previous phase's end."""
    end: datetime
    systems: tuple[SystemSlot, ...]
    critical: tuple[StepRef, ...]
    """The chain of steps that decides when this phase ends."""
    slack: timedelta | None
    """Time between this phase's end and the next phase's start (None for the last)."""


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    systems: tuple[str, ...]

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class FeatureWindows:
    feature: str
    windows: tuple[Window, ...]

    @property
    def total(self) -> timedelta:
        return sum((w.duration for w in self.windows), timedelta())

    @property
    def longest(self) -> Window | None:
        return max(self.windows, key=lambda w: w.duration, default=None)


@dataclass(frozen=True)
class Timeline:
    starts_at: datetime
    end: datetime
    phases: tuple[PhaseSlot, ...]
    critical_path: tuple[StepRef, ...]
    """Each phase's critical chain, in phase order: the path through the whole cutover."""
    features: tuple[FeatureWindows, ...]
    calibrated: frozenset[StepRef] = field(default_factory=frozenset)
    """Steps whose duration came from a measurement rather than the plan."""
    env: str | None = None
    """The environment whose `expected` durations were used (None: the plain values)."""

    def phase(self, phase_id: str) -> PhaseSlot:
        return next(p for p in self.phases if p.phase == phase_id)

    def slots(self, system_id: str) -> list[SystemSlot]:
        """The system's part in each phase it runs in, in phase order."""
        return [s for p in self.phases for s in p.systems if s.system == system_id]

    def system(self, system_id: str) -> SystemSlot:
        """The system's whole stretch: for a system over several phases, from its first step
        to its last, every step, and the phases joined (`night-one, night-two`)."""
        parts = self.slots(system_id)
        if not parts:
            raise KeyError(system_id)
        if len(parts) == 1:
            return parts[0]
        return SystemSlot(
            system_id,
            parts[0].department,
            ", ".join(p.phase for p in parts),
            parts[0].start,
            parts[-1].end,
            tuple(st for p in parts for st in p.steps),
            parts[0].waits_for,
        )

    def step(self, system_id: str, step_id: str) -> StepSlot:
        return next(s for s in self.system(system_id).steps if s.step == step_id)

    def feature(self, feature_id: str) -> FeatureWindows:
        return next(f for f in self.features if f.feature == feature_id)

    @property
    def pushes(self) -> list[StepSlot]:
        """The cuts' first steps that windows to avoid moved (or could not), in order."""
        return [st for p in self.phases for s in p.systems for st in s.steps if st.push]

    @property
    def duration(self) -> timedelta:
        return self.end - self.starts_at


class CycleError(ValueError):
    """Systems depend on each other in a circle; `lint` reports it with lines."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__(" → ".join(cycle))


def build_timeline(
    plan: Plan,
    durations: Mapping[StepRef, timedelta] | None = None,
    *,
    env: str | None = None,
    avoid: bool = True,
) -> Timeline:
    """Schedule the plan; `durations` replaces planned step durations (calibration).

    `env` picks each step's `expected` and the windows to avoid for that environment
    (None: the plain value, or `production`'s; `Plan.avoid_windows`); `avoid=False`
    ignores the windows (lint compares the two to say what a push breaks).
    """
    durations = durations or {}
    graph = {s.id: list(s.depends_on) for s in plan.systems}
    cycle = find_cycle(graph)
    if cycle:
        raise CycleError(cycle)

    phases: list[PhaseSlot] = []
    previous_end: datetime | None = None
    for phase in plan.phases:
        scheduled = plan.starts_at + phase.starts
        start = max(scheduled, previous_end) if previous_end else scheduled
        members = [
            plan.system(s)
            for s in dict.fromkeys(phase.systems)
            if _known(plan, s) and plan.steps_in(s, phase.id)
        ]
        slots = _schedule_phase(plan, phase.id, members, start, durations, env, avoid)
        end = max((s.end for s in slots.values()), default=start)
        ordered = tuple(slots[s.id] for s in members)
        phases.append(
            PhaseSlot(phase.id, scheduled, start, end, ordered, _critical(slots, start), None)
        )
        previous_end = end

    # slack: time between a phase's end and the next phase's start
    for i in range(len(phases) - 1):
        nxt = phases[i + 1]
        phases[i] = _replace_slack(phases[i], nxt.start - phases[i].end)

    # Phases run in order, so the path through the whole cutover is each phase's
    # chain in turn; a phase's slack says how far its chain may slip before it
    # delays the next phase (and, through it, the end).
    critical: list[StepRef] = [ref for p in phases for ref in p.critical]

    end = phases[-1].end if phases else plan.starts_at
    timeline_phases = tuple(phases)
    features = _feature_windows(plan, timeline_phases)
    calibrated = frozenset(k for k in durations if _has_step(plan, k))
    return Timeline(
        plan.starts_at, end, timeline_phases, tuple(critical), features, calibrated, env
    )


def _known(plan: Plan, system_id: str) -> bool:
    return any(s.id == system_id for s in plan.systems)


def _has_step(plan: Plan, ref: StepRef) -> bool:
    return any(s.id == ref[0] and any(st.key == ref[1] for st in s.steps) for s in plan.systems)


def _replace_slack(slot: PhaseSlot, slack: timedelta) -> PhaseSlot:
    return PhaseSlot(
        slot.phase, slot.scheduled, slot.start, slot.end, slot.systems, slot.critical, slack
    )


def _schedule_phase(
    plan: Plan,
    phase_id: str,
    members: list[System],
    start: datetime,
    durations: Mapping[StepRef, timedelta],
    env: str | None,
    avoid: bool,
) -> dict[str, SystemSlot]:
    in_phase = {s.id for s in members}
    slots: dict[str, SystemSlot] = {}

    def schedule(system: System) -> SystemSlot:
        if system.id in slots:
            return slots[system.id]
        begin, waits_for = start, None
        for dep in system.depends_on:
            if dep in in_phase:
                dep_slot = schedule(plan.system(dep))
                if dep_slot.end > begin:
                    begin, waits_for = dep_slot.end, dep
        cursor = begin
        steps: list[StepSlot] = []
        mine = plan.steps_in(system.id, phase_id)
        lengths = [durations.get((system.id, s.key), s.planned(env)) for s in mine]
        windows = plan.avoid_windows(system.id, env) if avoid else []
        for i, (step, length) in enumerate(zip(mine, lengths, strict=True)):
            push = None
            if windows and isinstance(step, FreezeStep):
                kinds = [s.step for s in mine]
                cursor, push = push_cut(windows, cursor, cut_length(kinds, lengths, i), plan.zone)
            steps.append(StepSlot(system.id, step.key, step.step, cursor, cursor + length, push))
            cursor += length
        first = steps[0].start if steps else begin
        slot = SystemSlot(
            system.id, system.department, phase_id, first, cursor, tuple(steps), waits_for
        )
        slots[system.id] = slot
        return slot

    for system in members:
        schedule(system)
    return slots


def _critical(slots: Mapping[str, SystemSlot], start: datetime) -> tuple[StepRef, ...]:
    if not slots:
        return ()
    last = max(slots.values(), key=lambda s: s.end)
    chain: list[StepRef] = []
    current: SystemSlot | None = last
    while current is not None:
        chain[:0] = [(current.system, st.step) for st in current.steps]
        current = slots[current.waits_for] if current.waits_for else None
    return tuple(chain)


def _feature_windows(plan: Plan, phases: tuple[PhaseSlot, ...]) -> tuple[FeatureWindows, ...]:
    raw: dict[str, list[Window]] = {f.id: [] for f in plan.features}
    for phase in phases:
        for slot in phase.systems:
            system = plan.system(slot.system)
            for feature, window in degradations(system, slot):
                raw.setdefault(feature, []).append(window)
    return tuple(FeatureWindows(fid, merge(windows)) for fid, windows in raw.items())


def degrade_ranges(system: System) -> list[tuple[str, str, str]]:
    """(feature, first step, last step) for each stretch of steps that degrades a feature.

    The live run uses the step ids: a window starts when its first step starts and
    ends when its last step is done.
    """
    out: list[tuple[str, str, str]] = []
    frozen_at: str | None = None
    for step in system.steps:
        if isinstance(step, FreezeStep) and step.mode != "buffer-writes" and frozen_at is None:
            frozen_at = step.key
        if isinstance(step, UnfreezeStep) and frozen_at is not None:
            out += [(f, frozen_at, step.key) for f in system.degrades]
            frozen_at = None
        out += [(f, step.key, step.key) for f in step.degrades]
    if frozen_at is not None:
        out += [(f, frozen_at, system.steps[-1].key) for f in system.degrades]
    return out


def degradations(system: System, slot: SystemSlot) -> list[tuple[str, Window]]:
    """Each (feature, window) a system's scheduled steps degrade, unmerged."""
    out: list[tuple[str, Window]] = []
    frozen_from: datetime | None = None
    by_key = {step.key: step for step in system.steps}
    for step, step_slot in ((by_key[s.step], s) for s in slot.steps):
        if isinstance(step, FreezeStep) and step.mode != "buffer-writes" and frozen_from is None:
            frozen_from = step_slot.start
        if isinstance(step, UnfreezeStep) and frozen_from is not None:
            out += [(f, Window(frozen_from, step_slot.end, (system.id,))) for f in system.degrades]
            frozen_from = None
        out += [(f, Window(step_slot.start, step_slot.end, (system.id,))) for f in step.degrades]
    if frozen_from is not None:
        out += [(f, Window(frozen_from, slot.end, (system.id,))) for f in system.degrades]
    return out


def merge(windows: list[Window]) -> tuple[Window, ...]:
    """Merge windows that overlap or touch; the merged window names every system."""
    merged: list[Window] = []
    for window in sorted(windows, key=lambda w: (w.start, w.end)):
        if window.duration <= timedelta():
            continue
        if merged and window.start <= merged[-1].end:
            last = merged[-1]
            systems = tuple(dict.fromkeys(last.systems + window.systems))
            merged[-1] = Window(last.start, max(last.end, window.end), systems)
        else:
            merged.append(window)
    return tuple(merged)
