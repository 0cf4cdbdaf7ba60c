"""Lint of the work-pool placement: which Prefect work pool reaches which system.

`environments.<env>.pools` maps a pool to the systems a worker in it can reach. A
pool naming a system the plan does not have, or a system placed in two pools of
one environment, is refused at the line that says it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator

from cutover.errors import Problem
from cutover.plan.models import Plan

At = Callable[[tuple[str | int, ...], str], Problem]


def pool_problems(plan: Plan, at: At) -> Iterator[Problem]:
    systems = sorted(s.id for s in plan.systems)
    for env_id, env in plan.environments.items():
        placed: dict[str, str] = {}
        for pool, members in env.pools.items():
            for index, system_id in enumerate(members):
                path = ("environments", env_id, "pools", pool, index)
                if system_id not in systems:
                    match = difflib.get_close_matches(system_id, systems, n=1)
                    hint = f"; did you mean {match[0]!r}?" if match else ""
                    yield at(path, f"pool {pool!r} names unknown system {system_id!r}{hint}")
                elif system_id in placed:
                    yield at(
                        path,
                        f"system {system_id!r} is in two pools of environment {env_id!r} "
                        f"({placed[system_id]!r} and {pool!r}); a system runs on one pool",
                    )
                else:
                    placed[system_id] = pool
