"""The order systems run and roll back in: one place for every walk of `depends_on`.

    >>> ordered(plan, phase.systems)         # each after its same-phase dependencies
    >>> dependents(plan, phase.systems, {"loyalty-core"})   # what waits on a failure
    >>> rollback_waves(plan)                 # later phases first, dependents first

Lint refuses cycles (`find_cycle`), so the walks below never meet one in a loaded plan;
should they, they raise ValueError rather than loop.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cutover.plan.models import Plan


def find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    """A dependency cycle as [a, b, ..., a], or None. Unknown ids are ignored."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in graph:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            deps = [d for d in graph.get(node, []) if d in graph]
            if index < len(deps):
                stack.append((node, index + 1))
                dep = deps[index]
                if state.get(dep) == 1:
                    return [*path[path.index(dep) :], dep]
                if not state.get(dep):
                    stack.append((dep, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def ordered(plan: Plan, members: Iterable[str]) -> list[str]:
    """`members` in an order where each comes after its dependencies among them."""
    pending = list(members)
    among = set(pending)
    done: list[str] = []
    placed: set[str] = set()
    while pending:
        ready = next(
            (
                s
                for s in pending
                if all(d in placed for d in plan.system(s).depends_on if d in among)
            ),
            None,
        )
        if ready is None:
            raise ValueError(f"dependency cycle among {', '.join(pending)}")
        done.append(ready)
        placed.add(ready)
        pending.remove(ready)
    return done


def dependents(plan: Plan, members: Iterable[str], of: Collection[str]) -> set[str]:
    """Every one of `members` that depends, directly or not, on a system in `of`."""
    members = list(members)
    reached: set[str] = set()
    changed = True
    while changed:
        changed = False
        for system_id in members:
            if system_id not in reached and set(plan.system(system_id).depends_on) & (
                set(of) | reached
            ):
                reached.add(system_id)
                changed = True
    return reached


def rollback_waves(plan: Plan) -> list[list[str]]:
    """Waves of systems to roll back: later phases first; dependents before what they depend on.

    Systems of one wave can be rolled back at once: none depends on another still waiting.
    A system over several phases is rolled back once, with the first of them (so after
    every later system that may depend on it).
    """
    waves: list[list[str]] = []
    seen: set[str] = set()
    for phase in plan.phases:
        phase_members = [s for s in dict.fromkeys(phase.systems) if s not in seen]
        seen.update(phase_members)
        waves[:0] = _waves(plan, phase_members)  # later phases first
    return waves


def _waves(plan: Plan, members: list[str]) -> list[list[str]]:
    """One phase's members in waves: each system after every member that depends on it."""
    waves: list[list[str]] = []
    remaining = set(members)
    while remaining:
        wave = [
            s
            for s in members
            if s in remaining
            and not any(s in plan.system(other).depends_on for other in remaining if other != s)
        ]
        if not wave:
            raise ValueError(f"dependency cycle among {', '.join(sorted(remaining))}")
        waves.append(wave)
        remaining -= set(wave)
    return waves
