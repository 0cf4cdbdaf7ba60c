"""`cutover demo` and `cutover drill`: the whole story on one machine, then reconciled.

1. Prefect: the server at `PREFECT_API_URL` (`--ui` starts one first), or Prefect's
   temporary local server;
2. the simulated estate for the plan's simulated environment, on a free loopback port;
3. simulated customers buying, redeeming, voiding... at `--rate` per second, with a ledger;
4. the cutover flow, compressed (`--time-scale`, idle time skipped), gates auto-approved;
   a drill injects faults and answers a failure with a rollback (the rollback flow);
5. reconciliation of the ledger against the stores: 0 lost, 0 duplicated, 0 refused;
6. a drill-style report (`report.md`) and a `DemoResult`.

At size (`--size large`, `--members N`) the loyalty core's stores move to a scratch
PostgreSQL database seeded with that many members first (`cutover.drill.size`), the
simulated customers join after them, and the report gives each process's peak memory.
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from cutover.logs import get_logger
from cutover.plan.models import Plan

from .rehearsal import DemoOptions, Rehearsal, prepare
from .result import DemoResult, summarize, switched_systems

log = get_logger("cutover.demo")

SIZED_CUSTOMERS = 20_000
"""At size, at least this many simulated customers: their events last the whole night."""
WARM_UP_SECONDS = 2.0
"""Customers sign up and buy for this long before the first freeze."""


def run_demo(options: DemoOptions) -> DemoResult:
    """Play the plan on the simulated estate with customers buying throughout; reconcile."""
    began = time.monotonic()
    if options.members is None:
        return _rehearse(options, began, None)
    from .scratch import DEFAULT_SERVER, ScratchDatabase, server_data_dir
    from .size import check_fits, check_size, estimate

    check_size(options.members, options.rate)
    server = options.server or DEFAULT_SERVER
    check_fits(estimate(options.members), data_dir=server_data_dir(server))
    with ScratchDatabase(server, name=options.database) as scratch:
        return _rehearse(options, began, scratch)


def _rehearse(options: DemoOptions, began: float, scratch: Any) -> DemoResult:
    rehearsal = prepare(options)
    if scratch is not None:
        _size(rehearsal, scratch)
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
    reconciling = time.monotonic()
    report = reconcile(
        plan, options.env, ledger=workdir / "ledger.jsonl", workdir=workdir, state_dir=state_dir
    )
    if rehearsal.size is not None:
        from .size import peak_rss_mb

        rehearsal.size["reconcile_s"] = round(time.monotonic() - reconciling, 1)
        rehearsal.size["peak_rss_mb"]["cutover"] = round(peak_rss_mb(), 1)
    (workdir / "reconciliation.txt").write_text(report.render())
    return summarize(rehearsal, report, traffic_result, programs, time.monotonic() - began)


def _size(rehearsal: Rehearsal, scratch: Any) -> None:
    """The core's stores onto `scratch`, the legacy one seeded; the rehearsal plays that plan."""
    from cutover.plan import load_plan

    from .population import seed_population
    from .size import sized_plan

    options = rehearsal.options
    assert options.members is not None
    core = sized_plan(rehearsal.loaded.path, options.env, scratch, rehearsal.workdir)
    rehearsal.loaded = load_plan(core.plan)
    last = [0.0]

    def progress(done: int, total: int, elapsed: float) -> None:
        if time.monotonic() - last[0] >= 5 or done == total:
            last[0] = time.monotonic()
            log.info("seeding", members=done, of=total, seconds=round(elapsed, 1))

    seeded = seed_population(
        core.legacy_dsn, options.members, progress=progress, target_dsn=core.tiers_dsn
    )
    log.info("seeded", members=seeded.members, history=seeded.history_rows, s=seeded.seconds)
    rehearsal.first_member = options.members + 1
    # a night at size outlasts 2,000 customers' three months of events at 300 per second
    rehearsal.customers = max(options.customers, SIZED_CUSTOMERS)
    rehearsal.size = {
        "members": seeded.members,
        "history_rows": seeded.history_rows,
        "database": scratch.name,
        "seed_s": round(seeded.seconds, 1),
        "peak_rss_mb": {},
    }


def _play(rehearsal: Rehearsal) -> tuple[Any, dict[str, str], Path]:
    """Estate up, customers buying, the cutover (and a rollback if one is asked for)."""
    from cutover.flows.launch import execute_rollback, execute_run
    from cutover.sim.server import running_estate

    from .seed import seed_stores
    from .traffic import BackgroundTraffic

    options, token, workdir = rehearsal.options, rehearsal.token, rehearsal.workdir
    # the estate in a process of its own, restarted if it dies: a crash of a system (a
    # `crash_exit` fault) is something the drill rehearses, not something that ends it
    with running_estate(
        rehearsal.loaded.path,
        options.env,
        workdir=workdir,
        token=token,
        process=True,
        supervised=True,
    ) as estate:
        traffic = BackgroundTraffic(
            url=estate.url,
            token=token,
            rate=options.rate,
            customers=rehearsal.customers,
            seed=options.seed,
            ledger=workdir / "ledger.jsonl",
            first_member=rehearsal.first_member,
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
        watching = options.watch(rehearsal, traffic.counts) if options.watch else nullcontext()
        with watching:
            rehearsal.summary = execute_run(request)
            if rehearsal.summary.outcome == "rollback-requested" or options.rollback_at == "end":
                if rehearsal.faults is not None:
                    from .faults import clear_faults

                    clear_faults(rehearsal.faults, estate.url, token)  # rehearsed clean
                rehearsal.rolled = execute_rollback(request)
        time.sleep(1.0)  # a last second of sales on whatever program now serves
        traffic_result = traffic.stop()
        if rehearsal.size is not None:
            from .size import peak_rss_mb

            pid = estate.process.pid if estate.process is not None else None
            rehearsal.size["peak_rss_mb"]["estate"] = round(peak_rss_mb(pid), 1)
        return traffic_result, programs_served(plan, estate, token), estate.state_dir


def programs_served(plan: Plan, estate: Any, token: str) -> dict[str, str]:
    """The program each system the plan switches serves now, as the systems themselves say.

    A system without a `switch` step is not moved to another program by the cutover (an
    event bus, a catalogue that only takes data): what it reports says nothing about how
    the night went, so it is left out rather than read as "still on the old program".
    """
    from cutover.control.client import ControlClient

    out = {}
    for system in switched_systems(plan):
        with ControlClient(estate.system_url(system.id), system=system.id, token=token) as client:
            out[system.id] = client.state().program
    return out
