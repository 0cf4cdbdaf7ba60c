"""`cutover demo` and `cutover drill`: the whole story on one machine, then reconciled.

1. Prefect: the server at `PREFECT_API_URL` (`--ui` starts one first), or Prefect's
   temporary local server;
2. the simulated estate for the plan's simulated environment, on a free loopback port;
3. simulated customers buying, redeeming, voiding... at `--rate` per second, with a ledger;
4. the cutover flow, compressed (`--time-scale`, idle time skipped), gates auto-approved;
   a drill injects faults and answers a failure with a rollback (the rollback flow);
5. reconciliation of the ledger against the stores: 0 lost, 0 duplicated, 0 refused;
6. a drill-style report (`report.md`) and a `DemoResult`.
"""

from __future__ import annotations

import os
import secrets as pysecrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cutover.engine.request import RunRequest
from cutover.engine.results import RollbackSummary, RunSummary
from cutover.errors import UsageError
from cutover.logs import get_logger
from cutover.plan import LoadedPlan, load_plan
from cutover.plan.models import Plan

from .result import DemoResult, summarize

log = get_logger("cutover.demo")

TOKEN_ENV = "CUTOVER_ESTATE_TOKEN"
DEMO_ACTIVE_SECONDS = 70.0
"""Auto time scale: the plan's active time (idle nights skipped) lasts about this long."""
WARM_UP_SECONDS = 2.0
"""Customers sign up and buy for this long before the first freeze."""


@dataclass
class DemoOptions:
    plan: Path
    env: str = "staging"
    time_scale: float | None = None
    rate: float = 60.0
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


def auto_scale(plan: Plan) -> float:
    """A time scale that plays the plan's active spans in about DEMO_ACTIVE_SECONDS."""
    from cutover.plan import build_timeline

    timeline = build_timeline(plan)
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
    workdir = (options.home / stamp).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    token = os.environ.get(TOKEN_ENV) or pysecrets.token_urlsafe(24)
    os.environ[TOKEN_ENV] = token  # the flow's clients resolve the plan's token_secret by name
    return Rehearsal(
        options=options,
        loaded=loaded,
        scale=options.time_scale or auto_scale(plan),
        run_key=f"{'drill' if options.drill else 'demo'}-{stamp}",
        workdir=workdir,
        token=token,
        faults=faults,
    )


def run_demo(options: DemoOptions) -> DemoResult:
    """Play the plan on the simulated estate with customers buying throughout; reconcile."""
    began = time.monotonic()
    rehearsal = prepare(options)
    server = None  # `cutover demo --ui` starts its server first and keeps it up afterwards
    if options.ui and not os.environ.get("PREFECT_API_URL"):
        from cutover.flows.server import start_ui_server

        server = start_ui_server(options.home / "prefect")
    try:
        traffic_result, programs, state_dir = _play(rehearsal)
    finally:
        if server is not None:
            server.stop()
    from cutover.sim.reconcile import reconcile

    plan, workdir = rehearsal.loaded.plan, rehearsal.workdir
    report = reconcile(
        plan, options.env, ledger=workdir / "ledger.jsonl", workdir=workdir, state_dir=state_dir
    )
    (workdir / "reconciliation.txt").write_text(report.render())
    return summarize(rehearsal, report, traffic_result, programs, time.monotonic() - began)


def _play(rehearsal: Rehearsal) -> tuple[Any, dict[str, str], Path]:
    """Estate up, customers buying, the cutover (and a rollback if one is asked for)."""
    from cutover.flows.launch import execute_rollback, execute_run
    from cutover.sim.server import running_estate

    from .seed import seed_stores
    from .traffic import BackgroundTraffic

    options, token, workdir = rehearsal.options, rehearsal.token, rehearsal.workdir
    with running_estate(rehearsal.loaded.path, options.env, workdir=workdir, token=token) as estate:
        traffic = BackgroundTraffic(
            url=estate.url,
            token=token,
            rate=options.rate,
            customers=options.customers,
            seed=options.seed,
            ledger=workdir / "ledger.jsonl",
        )
        plan = rehearsal.loaded.plan
        seeded = seed_stores(rehearsal.loaded, options.env, root=workdir)
        log.info("stores_seeded", stores=[f"{s.store}:{s.rows}" for s in seeded])
        traffic.start()
        time.sleep(WARM_UP_SECONDS)
        if rehearsal.faults is not None:
            from .faults import apply_faults

            apply_faults(rehearsal.faults, estate.url, token)
        request = rehearsal.request(estate.base_url)
        rehearsal.summary = execute_run(request)
        if rehearsal.summary.outcome == "rollback-requested" or options.rollback_at == "end":
            if rehearsal.faults is not None:
                from .faults import clear_faults

                clear_faults(rehearsal.faults, estate.url, token)  # the way back is rehearsed clean
            rehearsal.rolled = execute_rollback(request)
        time.sleep(1.0)  # a last second of sales on whatever program now serves
        traffic_result = traffic.stop()
        return traffic_result, programs_served(plan, estate, token), estate.state_dir


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


def programs_served(plan: Plan, estate: Any, token: str) -> dict[str, str]:
    """The program each system serves now, as the systems themselves say."""
    from cutover.control.client import ControlClient

    out = {}
    for system in plan.systems:
        with ControlClient(estate.system_url(system.id), system=system.id, token=token) as client:
            out[system.id] = client.state().program
    return out
