"""Lint of `notices.sinks`: ids once, environments and features the plan has, channels in use.

A sink naming an environment the plan lacks, a Statuspage component map naming a
feature the plan lacks (or one with no notice), or a sink carrying only channels no
feature's notices use, would deliver nothing on the night: each is refused at the
line that says it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator

from cutover.errors import Problem
from cutover.plan.models import Plan

At = Callable[[tuple[str | int, ...], str], Problem]


def _hint(value: str, known: list[str]) -> str:
    match = difflib.get_close_matches(value, known, n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def sink_problems(plan: Plan, at: At) -> Iterator[Problem]:
    envs = sorted(plan.environments)
    features = {f.id: f for f in plan.features}
    used = {ch for f in plan.features if f.notice for ch in (f.notice.channels or [])}
    if any(f.notice and f.notice.channels is None for f in plan.features):
        used |= set(plan.notices.channels)
    seen: dict[str, int] = {}
    for i, sink in enumerate(plan.notices.sinks):
        where: tuple[str | int, ...] = ("notices", "sinks", i)
        if sink.id in seen:
            yield at(
                (*where, "id"), f"duplicate sink id {sink.id!r} (first is sinks[{seen[sink.id]}])"
            )
        seen.setdefault(sink.id, i)
        for j, env in enumerate(sink.environments):
            if env not in plan.environments:
                yield at(
                    (*where, "environments", j),
                    f"sink {sink.id!r} names unknown environment {env!r}{_hint(env, envs)}",
                )
        for feature_id in sink.components or {}:
            feature = features.get(feature_id)
            if feature is None:
                yield at(
                    (*where, "components", feature_id),
                    f"sink {sink.id!r} maps unknown feature {feature_id!r}"
                    + _hint(feature_id, sorted(features)),
                )
            elif feature.notice is None:
                yield at(
                    (*where, "components", feature_id),
                    f"feature {feature_id!r} has no `notice:`; nothing would reach its component",
                )
        carried = sink.channels or (["email"] if sink.kind == "email" else None)
        if carried is not None and not set(carried) & used:
            names = ", ".join(carried)
            yield at(
                (*where, "channels") if sink.channels else (*where, "kind"),
                f"sink {sink.id!r} carries {names}, which no feature's notices use "
                f"(they use: {', '.join(sorted(used)) or 'none'})",
            )
