"""A rehearsal being prepared: its options checked against the plan, its folder, its clock."""

from __future__ import annotations

import os
import secrets as pysecrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cutover.engine.request import RunRequest
from cutover.engine.results import RollbackSummary, RunSummary
from cutover.errors import UsageError
from cutover.plan import LoadedPlan, load_plan
from cutover.plan.models import Plan

TOKEN_ENV = "CUTOVER_ESTATE_TOKEN"
DEMO_ACTIVE_SECONDS = 70.0
"""Auto time scale: the plan's active time (idle nights skipped) lasts about this long."""


@dataclass
class DemoOptions:
    plan: Path
    env: str = "staging"
    time_scale: float | None = None
    rate: float = 300.0
    customers: int = 2000
    seed: int = 7
    ui: bool = False
    home: Path = Path("var/demo")
    rollback_at: str | None = None
    """Drills: `SYSTEM:STEP` after which to roll back, or `end` (after go-live)."""
    faults: Path | None = None
    """Drills: a faults file (see `cutover.drill.faults`)."""
    drill: bool = False
    past_point_of_no_return: bool = False
    """Drills: rehearse the rollback even past the plan's point of no return."""
    members: int | None = None
    """At size (`--size large`, `--members N`): the loyalty core's stores in PostgreSQL,
    seeded with this many members (`cutover.drill.size`); None: the plan's own stores."""
    database: str | None = None
    """At size: a database to use instead of a scratch one (created and dropped)."""
    server: str | None = None
    """At size: the PostgreSQL server (default `cutover.drill.scratch.DEFAULT_SERVER`)."""
    workdir: Path | None = None
    """The run's folder (default: a new one under `home`, named by the time)."""
    watch: Callable[[Rehearsal, Any], AbstractContextManager[Any]] | None = None
    """Entered around the cutover (and its rollback): given the rehearsal and the customers'
    running `TrafficCounts`, it shows the run as it goes (`cutover.cli.live`)."""


def auto_scale(plan: Plan, env: str | None = None) -> float:
    """A time scale that plays the plan's active spans in about DEMO_ACTIVE_SECONDS."""
    from cutover.plan import build_timeline

    timeline = build_timeline(plan, env=env)
    active = sum((p.end - p.start).total_seconds() for p in timeline.phases)
    return max(1.0, round(active / DEMO_ACTIVE_SECONDS))


@dataclass
class Rehearsal:
    """One demo or drill under way: what it runs, where it keeps things, what came back."""

    options: DemoOptions
    loaded: LoadedPlan
    scale: float
    run_key: str
    workdir: Path
    token: str
    faults: Any = None
    summary: RunSummary | None = None
    rolled: RollbackSummary | None = None
    first_member: int = 1
    customers: int = 0
    """The simulated customers (the option's, or more at size); 0 until prepared."""
    """The simulated customers' first member id (after the seeded members, at size)."""
    size: dict[str, Any] | None = None
    """At size: members, history rows, database, seed and reconcile seconds, peak memory."""

    def request(self, base_url: str) -> RunRequest:
        rollback_at = self.options.rollback_at
        return RunRequest(
            plan_path=str(self.loaded.path.resolve()),
            env=self.options.env,
            run_key=self.run_key,
            journal=str(self.workdir / "journal.db"),
            workdir=str(self.workdir / "run"),
            scale=self.scale,
            base_url=base_url,
            auto_approve=True,
            on_failure="rollback" if self.options.drill else None,
            data_root=str(self.workdir),
            skip_idle=True,
            rollback_at=None if rollback_at == "end" else rollback_at,
            past_point_of_no_return=self.options.past_point_of_no_return,
            local=True,  # one machine: the plan's work pools are for the night itself
            hand_over_rollback=False,  # the drill clears its faults, then rolls back itself
        )


def prepare(options: DemoOptions) -> Rehearsal:
    """Check the options against the plan and make the run's folder; UsageError if unusable."""
    loaded = load_plan(options.plan)
    plan = loaded.plan
    if options.env not in plan.environments or not plan.environments[options.env].simulated:
        raise UsageError(
            f"environment {options.env!r} of {options.plan} is not a simulated one; "
            "the demo needs `simulated: true`"
        )
    faults = None
    if options.faults is not None:
        from .faults import load_faults

        faults = load_faults(options.faults, plan)
    if options.rollback_at not in (None, "end"):
        check_rollback_point(plan, str(options.rollback_at))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    workdir = (options.workdir or options.home / stamp).resolve()
    stamp = workdir.name
    workdir.mkdir(parents=True, exist_ok=True)
    token = os.environ.get(TOKEN_ENV) or pysecrets.token_urlsafe(24)
    os.environ[TOKEN_ENV] = token  # the flow's clients resolve the plan's token_secret by name
    return Rehearsal(
        customers=options.customers,
        options=options,
        loaded=loaded,
        scale=options.time_scale or auto_scale(plan, options.env),
        run_key=f"{'drill' if options.drill else 'demo'}-{stamp}",
        workdir=workdir,
        token=token,
        faults=faults,
    )


def check_rollback_point(plan: Plan, point: str) -> None:
    """UsageError unless `point` is SYSTEM:STEP of the plan."""
    system, _, step = point.partition(":")
    try:
        keys = [s.key for s in plan.system(system).steps]
    except KeyError:
        raise UsageError(f"--rollback-at {point!r}: no system {system!r} in the plan") from None
    if step not in keys:
        raise UsageError(
            f"--rollback-at {point!r}: {system} has no step {step!r} (it has {', '.join(keys)})"
        )
