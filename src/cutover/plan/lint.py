"""Lint: the rules a well-typed plan must still follow before anything runs.

Each rule yields problems at the line of the value at fault. The rules:
duplicate ids; unknown ids (departments, systems, features, stores, approvers);
dependency cycles; a system in no phase, or in two without steps saying `phase:`;
a system depending on one in a later phase; a phase starting before what it
depends on can finish; a freeze never unfrozen in its own phase (or an unfreeze
with no freeze); a degraded feature with no notice; a budget the timeline breaks;
a program name for a version nothing serves. In modules of their own (under
`cutover.plan`): the steps' own keys (`step_lint`), a gate's mapping checks
(`gate_lint`), work pools (`pools`), customer text naming a system, a URL or a
secret (`customer_text`), windows to avoid (`window_lint`), data flows and the
checks naming them (`dataflow_lint`); mapping and carry-back files (`step_files`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from cutover.errors import Problem
from cutover.plan.customer_text import customer_text
from cutover.plan.dataflow_lint import dataflow_problems
from cutover.plan.durations import format_duration
from cutover.plan.gate_lint import gate_problems
from cutover.plan.loader import SourceMap
from cutover.plan.models import (
    FreezeStep,
    MigrateStep,
    Phase,
    Plan,
    SwitchStep,
    System,
    UnfreezeStep,
)
from cutover.plan.order import find_cycle
from cutover.plan.pools import pool_problems
from cutover.plan.sink_lint import sink_problems
from cutover.plan.step_lint import per_environment, step_problems
from cutover.plan.timeline import Timeline, build_timeline
from cutover.plan.window_lint import window_problems


def lint(plan: Plan, source: SourceMap) -> list[Problem]:
    """Every problem in the plan, sorted by line; empty when the plan is good."""
    linter = _Linter(plan, source)
    return sorted(set(linter.run()))


class _Linter:
    def __init__(self, plan: Plan, source: SourceMap) -> None:
        self.plan = plan
        self.source = source
        self.departments = {d.id for d in plan.departments}
        self.systems = {s.id for s in plan.systems}
        self.features = {f.id for f in plan.features}

    def at(self, path: tuple[str | int, ...], message: str) -> Problem:
        return self.source.problem(path, message)

    def run(self) -> Iterator[Problem]:
        yield from self.duplicates()
        yield from self.step_order()
        yield from customer_text(self.plan, self.source)
        yield from self.stores()
        yield from self.program_names()
        yield from pool_problems(self.plan, self.at)
        yield from sink_problems(self.plan, self.at)
        yield from step_problems(self.plan, self.at)
        yield from gate_problems(self.plan, self.at)
        yield from dataflow_problems(self.plan, self.at)
        structural = [*self.references(), *self.cycles(), *self.placement()]
        yield from structural
        if structural:
            return  # the timeline is meaningless until these are fixed
        yield from self.notices(build_timeline(self.plan))
        # steps planned per environment: every environment's night must fit
        # (and windows to avoid: judged as they push, in each environment: window_lint)
        each = per_environment(self.plan) or any(e.avoid for e in self.plan.environments.values())
        for env in list(self.plan.environments) if each else [None]:
            timeline, plain = (build_timeline(self.plan, env=env, avoid=a) for a in (True, False))
            where = f" (with {env}'s durations)" if env is not None else ""
            pushed = window_problems(self.plan, timeline, plain, self.at)
            for problem in [*self.phase_starts(plain), *self.budgets(plain), *pushed]:
                yield Problem(problem.file, problem.line, problem.message + where)

    # ------------------------------------------------------------------ ids

    def duplicates(self) -> Iterator[Problem]:
        groups: list[tuple[str, list[str]]] = [
            ("departments", [d.id for d in self.plan.departments]),
            ("systems", [s.id for s in self.plan.systems]),
            ("features", [f.id for f in self.plan.features]),
            ("phases", [p.id for p in self.plan.phases]),
            ("budgets", [b.feature for b in self.plan.budgets]),
        ]
        for section, ids in groups:
            seen: dict[str, int] = {}
            for i, ident in enumerate(ids):
                key = "feature" if section == "budgets" else "id"
                if ident in seen:
                    first = self.source.line((section, seen[ident]))
                    what = "a second budget for" if section == "budgets" else "duplicate id"
                    yield self.at((section, i, key), f"{what} {ident!r} (first at line {first})")
                else:
                    seen[ident] = i
        for si, system in enumerate(self.plan.systems):
            counts = Counter(step.key for step in system.steps)
            for ti, step in enumerate(system.steps):
                if counts[step.key] > 1 and [s.key for s in system.steps].index(step.key) != ti:
                    yield self.at(
                        ("systems", si, "steps", ti),
                        f"system {system.id!r} has two steps called {step.key!r}; "
                        "give one an `id:`",
                    )

    def references(self) -> Iterator[Problem]:
        for si, system in enumerate(self.plan.systems):
            yield from self._system_references(si, system)
        for pi, phase in enumerate(self.plan.phases):
            yield from self._phase_references(pi, phase)
        for bi, budget in enumerate(self.plan.budgets):
            if budget.feature not in self.features:
                yield self.at(
                    ("budgets", bi, "feature"),
                    f"budget for unknown feature {budget.feature!r}"
                    + _hint(budget.feature, self.features),
                )

    def _system_references(self, si: int, system: System) -> Iterator[Problem]:
        base = ("systems", si)
        if system.department not in self.departments:
            yield self.at(
                (*base, "department"),
                f"system {system.id!r}: unknown department {system.department!r}"
                + _hint(system.department, self.departments),
            )
        for di, dep in enumerate(system.depends_on):
            if dep == system.id:
                yield self.at((*base, "depends_on", di), f"system {dep!r} depends on itself")
            elif dep not in self.systems:
                yield self.at(
                    (*base, "depends_on", di),
                    f"system {system.id!r} depends on unknown system {dep!r}"
                    + _hint(dep, self.systems),
                )
        for fi, feature in enumerate(system.degrades):
            if feature not in self.features:
                yield self.at(
                    (*base, "degrades", fi),
                    f"system {system.id!r} degrades unknown feature {feature!r}"
                    + _hint(feature, self.features),
                )
        for ti, step in enumerate(system.steps):
            for fi, feature in enumerate(step.degrades):
                if feature not in self.features:
                    yield self.at(
                        (*base, "steps", ti, "degrades", fi),
                        f"step {step.key!r} degrades unknown feature {feature!r}"
                        + _hint(feature, self.features),
                    )

    def _phase_references(self, pi: int, phase: Phase) -> Iterator[Problem]:
        for i, system_id in enumerate(phase.systems):
            if system_id not in self.systems:
                yield self.at(
                    ("phases", pi, "systems", i),
                    f"phase {phase.id!r} names unknown system {system_id!r}"
                    + _hint(system_id, self.systems),
                )
        if phase.gate:
            for ai, approver in enumerate(phase.gate.approvers):
                if approver not in self.departments:
                    yield self.at(
                        ("phases", pi, "gate", "approvers", ai),
                        f"gate approver {approver!r} is not a department id; approvers are "
                        "department ids" + _department_hint(approver, self.plan),
                    )
                elif phase.gate.approvers.index(approver) != ai:
                    yield self.at(
                        ("phases", pi, "gate", "approvers", ai),
                        f"approver {approver!r} is listed twice",
                    )
                elif not self.plan.department(approver).signoff_secret:
                    di = [d.id for d in self.plan.departments].index(approver)
                    yield self.at(
                        ("departments", di),
                        f"department {approver!r} approves the gate of phase {phase.id!r} but "
                        "names no `signoff_secret`: name the secret its lead types to sign "
                        "(docs/gates.md)",
                    )

    def cycles(self) -> Iterator[Problem]:
        graph = {s.id: list(s.depends_on) for s in self.plan.systems}
        cycle = find_cycle(graph)
        if cycle:
            index = next(i for i, s in enumerate(self.plan.systems) if s.id == cycle[0])
            yield self.at(
                ("systems", index, "depends_on"), "dependency cycle: " + " → ".join(cycle)
            )

    # ------------------------------------------------------------- phases

    def placement(self) -> Iterator[Problem]:
        where: dict[str, list[int]] = {}
        for pi, phase in enumerate(self.plan.phases):
            for system_id in dict.fromkeys(phase.systems):
                where.setdefault(system_id, []).append(pi)
        for si, system in enumerate(self.plan.systems):
            phases = where.get(system.id, [])
            if not phases:
                yield self.at(("systems", si, "id"), f"system {system.id!r} is in no phase")
            elif len(phases) > 1 and not any(step.phase for step in system.steps):
                names = ", ".join(repr(self.plan.phases[p].id) for p in phases)
                second = self.plan.phases[phases[1]]
                yield self.at(
                    ("phases", phases[1], "systems", second.systems.index(system.id)),
                    f"system {system.id!r} is in two phases ({names}); to run some of its "
                    f"steps in {second.id!r}, mark the first of them `phase: {second.id}`",
                )
        for si, system in enumerate(self.plan.systems):
            mine = where.get(system.id, [None])[0]
            for di, dep in enumerate(system.depends_on):
                theirs = where.get(dep, [None])[0]
                if mine is not None and theirs is not None and theirs > mine:
                    yield self.at(
                        ("systems", si, "depends_on", di),
                        f"system {system.id!r} (phase {self.plan.phases[mine].id!r}) depends on "
                        f"{dep!r}, which runs in a later phase "
                        f"({self.plan.phases[theirs].id!r})",
                    )

    def phase_starts(self, timeline: Timeline) -> Iterator[Problem]:
        start = self.plan.starts_at
        for pi in range(1, len(self.plan.phases)):
            phase = self.plan.phases[pi]
            scheduled = start + phase.starts
            reported = False
            for system_id in phase.systems:
                system = self.plan.system(system_id)
                si = self.plan.systems.index(system)
                for di, dep in enumerate(system.depends_on):
                    parts = timeline.slots(dep)
                    if any(part.phase == phase.id for part in parts):
                        continue  # the same phase orders them
                    before = [p for p in parts if self._index(p.phase) < pi]
                    if not before:
                        continue
                    dep_end = before[-1].end
                    if dep_end > scheduled:
                        reported = True
                        yield self.at(
                            ("systems", si, "depends_on", di),
                            f"phase {phase.id!r} starts at +{format_duration(phase.starts)}, "
                            f"before {dep!r} (which {system_id!r} depends on) can finish at "
                            f"+{format_duration(dep_end - start)}",
                        )
            previous = timeline.phases[pi - 1]
            if not reported and previous.end > scheduled:
                yield self.at(
                    ("phases", pi, "starts"),
                    f"phase {phase.id!r} starts at +{format_duration(phase.starts)}, before "
                    f"phase {previous.phase!r} can finish at "
                    f"+{format_duration(previous.end - start)}",
                )

    def _index(self, phase_id: str) -> int:
        return [p.id for p in self.plan.phases].index(phase_id)

    # --------------------------------------------------------------- steps

    def step_order(self) -> Iterator[Problem]:
        for si, system in enumerate(self.plan.systems):
            frozen_at: int | None = None
            phases = self.plan.step_phases(system)
            for ti, step in enumerate(system.steps):
                if frozen_at is not None and phases[ti] != phases[frozen_at]:
                    yield self.at(
                        ("systems", si, "steps", frozen_at),
                        f"system {system.id!r} is frozen in phase {phases[frozen_at]!r} and "
                        f"not unfrozen before phase {phases[ti]!r}: pair every freeze with an "
                        "unfreeze in its own phase (writes would be held between them)",
                    )
                    frozen_at = None
                    if isinstance(step, UnfreezeStep):
                        continue
                if isinstance(step, FreezeStep):
                    if frozen_at is not None:
                        yield self.at(
                            ("systems", si, "steps", ti),
                            f"system {system.id!r} is frozen twice without an unfreeze between",
                        )
                    frozen_at = ti
                elif isinstance(step, UnfreezeStep):
                    if frozen_at is None:
                        yield self.at(
                            ("systems", si, "steps", ti),
                            f"system {system.id!r} unfreezes without a freeze before",
                        )
                    frozen_at = None
            if frozen_at is not None:
                yield self.at(
                    ("systems", si, "steps", frozen_at),
                    f"system {system.id!r} is frozen and never unfrozen; add `step: unfreeze`",
                )

    def stores(self) -> Iterator[Problem]:
        for si, system in enumerate(self.plan.systems):
            for ti, step in enumerate(system.steps):
                if not isinstance(step, MigrateStep):
                    continue
                base = ("systems", si, "steps", ti)
                for role in ("source", "target"):
                    store = getattr(step, role)
                    for env_id, env in self.plan.environments.items():
                        if store not in env.stores:
                            yield self.at(
                                (*base, role),
                                f"{role} store {store!r} is not defined in environment "
                                f"{env_id!r} (environments.{env_id}.stores)",
                            )

    def program_names(self) -> Iterator[Problem]:
        program = self.plan.program
        versions = {program.legacy, program.target} | {
            step.version
            for system in self.plan.systems
            for step in system.steps
            if isinstance(step, SwitchStep) and step.version
        }
        for version in program.names:
            if version not in versions:
                yield self.at(
                    ("program", "names", version),
                    f"program.names names {version!r}, which no system serves (not "
                    "program.legacy, program.target or a switch's version)"
                    + _hint(version, versions),
                )

    # ------------------------------------------------------------ features

    def notices(self, timeline: Timeline) -> Iterator[Problem]:
        for fi, feature in enumerate(self.plan.features):
            windows = timeline.feature(feature.id).windows
            if windows and feature.notice is None:
                by = ", ".join(dict.fromkeys(s for w in windows for s in w.systems))
                yield self.at(
                    ("features", fi, "id"),
                    f"feature {feature.id!r} is degraded (by {by}) but has no `notice:` "
                    "telling customers",
                )

    def budgets(self, timeline: Timeline) -> Iterator[Problem]:
        tz = self.plan.zone
        for bi, budget in enumerate(self.plan.budgets):
            if budget.feature not in self.features:
                continue
            fw = timeline.feature(budget.feature)
            longest = fw.longest
            if longest and longest.duration > budget.max_outage:
                start = longest.start.astimezone(tz).strftime("%a %H:%M")
                same_day = longest.end.date() == longest.start.date()
                end = longest.end.astimezone(tz).strftime("%H:%M" if same_day else "%a %H:%M")
                yield self.at(
                    ("budgets", bi, "max_outage"),
                    f"feature {budget.feature!r} is down {format_duration(longest.duration)} "
                    f"in one window ({start}–{end}, by {', '.join(longest.systems)}), over its "
                    f"budget of {format_duration(budget.max_outage)}",
                )
            if budget.max_total is not None and fw.total > budget.max_total:
                yield self.at(
                    ("budgets", bi, "max_total"),
                    f"feature {budget.feature!r} is down {format_duration(fw.total)} in all, "
                    f"over its budget of {format_duration(budget.max_total)}",
                )


def _department_hint(value: str, plan: Plan) -> str:
    """`: did you mean 'digital' (Digital & Mobile, lead Hana Sato)?`, matched on ids, names
    and signers' names; else the department ids to choose from."""
    import difflib

    owner: dict[str, str] = {}
    for d in plan.departments:
        for text in (d.id, d.name, d.lead, *(s.name for s in d.deputies)):
            owner.setdefault(text.lower(), d.id)
    match = difflib.get_close_matches(value.lower(), list(owner), n=1, cutoff=0.6)
    if match:
        d = plan.department(owner[match[0]])
        return f": did you mean {d.id!r} ({d.name}, lead {d.lead})?"
    ids = [d.id for d in plan.departments]
    more = f" and {len(ids) - 8} more" if len(ids) > 8 else ""
    return f": {', '.join(ids[:8])}{more}"


def _hint(value: str, known: set[str]) -> str:
    import difflib

    match = difflib.get_close_matches(value, sorted(known), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""
