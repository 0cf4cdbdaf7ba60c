"""Lint of a gate's `mapping_checks`: rules `cutover.plan.lint` runs.

A gate that signs a mapping shows its gap analysis (`cutover mapping check`) on the
form. Each check names a mapping file one of the plan's migrate steps uses, written as
the step writes it (so it is the file loaded with the plan, the one the night runs), and
a store defined in every environment (the run reads its own environment's). The same
mapping and store twice on one gate is refused.
"""

from __future__ import annotations

from collections.abc import Iterator

from cutover.errors import Problem
from cutover.plan.models import MigrateStep, Plan
from cutover.plan.step_lint import At, hint


def gate_problems(plan: Plan, at: At) -> Iterator[Problem]:
    """Every problem of the gates' mapping checks, at the line that says it."""
    used = sorted(
        {st.mapping for s in plan.systems for st in s.steps if isinstance(st, MigrateStep)}
    )
    for pi, phase in enumerate(plan.phases):
        if phase.gate is None:
            continue
        seen: set[tuple[str, str]] = set()
        for ci, check in enumerate(phase.gate.mapping_checks):
            base = ("phases", pi, "gate", "mapping_checks", ci)
            if check.mapping not in used:
                known = ", ".join(used) if used else "none: the plan has no migrate step"
                yield at(
                    (*base, "mapping"),
                    f"gate of phase {phase.id!r}: mapping {check.mapping!r} is not one the "
                    f"plan's migrate steps use ({known}); write it as the migrate step does"
                    + hint(check.mapping, used),
                )
            for env_id, env in plan.environments.items():
                if check.store not in env.stores:
                    yield at(
                        (*base, "store"),
                        f"gate of phase {phase.id!r}: store {check.store!r} is not defined in "
                        f"environment {env_id!r} (environments.{env_id}.stores)"
                        + hint(check.store, sorted(env.stores)),
                    )
            if (check.mapping, check.store) in seen:
                yield at(base, f"gate of phase {phase.id!r}: this mapping check is listed twice")
            seen.add((check.mapping, check.store))
