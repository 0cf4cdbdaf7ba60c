"""Lint of what a plan says about its steps beyond their kind: rules `cutover.plan.lint` runs.

- `expected: {staging: 5m, production: 40m}` names environments of the plan;
- a step's `phase:` (a system over several phases) names a phase that lists the
  system, never goes back to an earlier phase, and every phase listing a system
  whose steps say `phase:` gets at least one of them (freezes paired within a
  phase: `cutover.plan.lint`, with the rest of the step order);
- a manual step's confirming department exists and names its `signoff_secret`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator

from cutover.errors import Problem
from cutover.plan.models import ManualStep, Plan, System

At = Callable[[tuple[str | int, ...], str], Problem]


def step_problems(plan: Plan, at: At) -> Iterator[Problem]:
    """Every problem of the steps' own keys, at the line that says it."""
    environments = sorted(plan.environments)
    for si, system in enumerate(plan.systems):
        for ti, step in enumerate(system.steps):
            base = ("systems", si, "steps", ti)
            if isinstance(step.expected, dict):
                for env in step.expected:
                    if env not in plan.environments:
                        yield at(
                            (*base, "expected", env),
                            f"step {system.id} · {step.key}: `expected` names environment "
                            f"{env!r}, which is not in `environments` "
                            f"({', '.join(environments)})" + hint(env, environments),
                        )
            if isinstance(step, ManualStep):
                yield from _manual(plan, at, base, system, step)
        yield from _phases(plan, at, si)


def _manual(
    plan: Plan, at: At, base: tuple[str | int, ...], system: System, step: ManualStep
) -> Iterator[Problem]:
    departments = [d.id for d in plan.departments]
    who = step.department or system.department
    path = (*base, "department") if step.department else base
    if step.department and who not in departments:
        yield at(
            path,
            f"step {system.id} · {step.key}: unknown department {who!r}" + hint(who, departments),
        )
    elif who in departments and not plan.department(who).signoff_secret:
        yield at(
            path,
            f"step {system.id} · {step.key} is confirmed by department {who!r}, which names no "
            "`signoff_secret`: name the secret its lead types to sign (docs/gates.md)",
        )


def _phases(plan: Plan, at: At, si: int) -> Iterator[Problem]:
    system = plan.systems[si]
    if not any(step.phase for step in system.steps):
        return  # in one phase, or lint's placement says it is in two
    order = {p.id: i for i, p in enumerate(plan.phases)}
    listed = [p.id for p in plan.phases if system.id in p.systems]
    reached = -1
    for ti, step in enumerate(system.steps):
        if step.phase is None:
            continue
        path = ("systems", si, "steps", ti, "phase")
        where = f"step {system.id} · {step.key}"
        if step.phase not in order:
            yield at(path, f"{where}: unknown phase {step.phase!r}" + hint(step.phase, list(order)))
        elif step.phase not in listed:
            yield at(
                path,
                f"{where} runs in phase {step.phase!r}, which does not list {system.id!r}: "
                f"add it to that phase's `systems` ({', '.join(listed)} do)",
            )
        elif order[step.phase] < reached:
            yield at(
                path,
                f"{where} goes back to phase {step.phase!r} after a later one: a system's "
                "steps run phase by phase, in the plan's order",
            )
        reached = max(reached, order.get(step.phase, reached))
    runs_in = set(plan.step_phases(system))
    for pi, phase in enumerate(plan.phases):
        if system.id in phase.systems and phase.id not in runs_in:
            yield at(
                ("phases", pi, "systems", phase.systems.index(system.id)),
                f"phase {phase.id!r} lists system {system.id!r}, but none of its steps runs "
                f"in it: mark the first step of that phase `phase: {phase.id}`",
            )


def per_environment(plan: Plan) -> bool:
    """Does any step plan its duration per environment?"""
    return any(isinstance(st.expected, dict) for s in plan.systems for st in s.steps)


def hint(value: str, known: list[str]) -> str:
    match = difflib.get_close_matches(value, known, n=1)
    return f"; did you mean {match[0]!r}?" if match else ""
