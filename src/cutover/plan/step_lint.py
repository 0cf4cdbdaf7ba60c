"""Lint of what a plan says about its steps beyond their kind: rules `cutover.plan.lint` runs.

- `expected: {staging: 5m, production: 40m}` names environments of the plan;
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator

from cutover.errors import Problem
from cutover.plan.models import Plan

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


def per_environment(plan: Plan) -> bool:
    """Does any step plan its duration per environment?"""
    return any(isinstance(st.expected, dict) for s in plan.systems for st in s.steps)


def hint(value: str, known: list[str]) -> str:
    match = difflib.get_close_matches(value, known, n=1)
    return f"; did you mean {match[0]!r}?" if match else ""
