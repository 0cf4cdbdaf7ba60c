"""`cutover demo`: the whole story on one machine, with nothing installed but the project.

1. Prefect: the server at `PREFECT_API_URL` (`--ui` starts one first, with
   `cutover.flows.server.start_ui_server`), or Prefect's temporary local server;
2. the simulated estate for the plan's `staging` environment, on a free loopback port;
3. simulated customers buying, redeeming, voiding... at `--rate` per second, with a ledger;
4. the cutover flow, compressed (`--time-scale`, idle time skipped), gates auto-approved;
5. reconciliation of the ledger against the stores: 0 lost, 0 duplicated, 0 refused;
6. a summary, a drill-style report (`report.md`), and with `--json` one JSON line.
"""

from __future__ import annotations

import asyncio
import os
import secrets as pysecrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cutover.errors import UsageError
from cutover.logs import get_logger

log = get_logger("cutover.demo")

TOKEN_ENV = "CUTOVER_ESTATE_TOKEN"
DEMO_ACTIVE_SECONDS = 70.0
"""Auto time scale: the plan's active time (idle nights skipped) lasts about this long."""


class BackgroundTraffic:
    """The traffic simulator in a thread of its own, stoppable from this one."""

    def __init__(
        self, *, url: str, token: str | None, rate: float, customers: int, seed: int, ledger: Path
    ) -> None:
        from cutover.sim.generator import Settings

        self.settings = Settings(customers=customers, seed=seed, run=f"demo{seed}").check()
        self.url, self.token, self.rate, self.ledger = url, token, rate, ledger
        self.result: Any = None
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cutover-traffic", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by stop()
            self.error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        from cutover.sim.generator import Generator
        from cutover.sim.traffic import Ledger, Router, discover_fronts, drive

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        router = Router(discover_fronts(self.url, self.token))
        book = Ledger(self.ledger)
        self._ready.set()
        try:
            self.result = await drive(
                Generator(self.settings).events(),
                url=self.url,
                token=self.token,
                rate=self.rate,
                router=router,
                ledger=book,
                stop=self._stop,
            )
        finally:
            book.close()

    def stop(self) -> Any:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        if self.error is not None:
            raise self.error
        return self.result


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


def auto_scale(plan: Any) -> float:
    """A time scale that plays the plan's active spans in about DEMO_ACTIVE_SECONDS."""
    from cutover.plan import build_timeline

    timeline = build_timeline(plan)
    active = sum((p.end - p.start).total_seconds() for p in timeline.phases)
    return max(1.0, round(active / DEMO_ACTIVE_SECONDS))


def run_demo(options: DemoOptions) -> dict[str, Any]:
    from cutover.plan import load_plan

    began = time.monotonic()
    loaded = load_plan(options.plan)
    plan = loaded.plan
    if options.env not in plan.environments or not plan.environments[options.env].simulated:
        raise UsageError(
            f"environment {options.env!r} of {options.plan} is not a simulated one; "
            "the demo needs `simulated: true`"
        )
    scale = options.time_scale or auto_scale(plan)
    faults = None
    if options.faults is not None:
        from cutover.drill.faults import load_faults

        faults = load_faults(options.faults, plan)
    if options.rollback_at not in (None, "end"):
        _check_point(plan, str(options.rollback_at))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_key = f"{'drill' if options.drill else 'demo'}-{stamp}"
    workdir = (options.home / stamp).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    token = os.environ.get(TOKEN_ENV) or pysecrets.token_urlsafe(24)
    os.environ[TOKEN_ENV] = token  # the flow's clients resolve the plan's token_secret by name

    server = None  # `cutover demo --ui` starts its server first and keeps it up afterwards
    if options.ui and not os.environ.get("PREFECT_API_URL"):
        from cutover.flows.server import start_ui_server

        server = start_ui_server(options.home / "prefect")

    from cutover.cli.run import execute_run
    from cutover.engine.report import build_report, write_report
    from cutover.sim.reconcile import reconcile
    from cutover.sim.server import running_estate

    ledger = workdir / "ledger.jsonl"
    try:
        with running_estate(options.plan, options.env, workdir=workdir, token=token) as estate:
            traffic = BackgroundTraffic(
                url=estate.url,
                token=token,
                rate=options.rate,
                customers=options.customers,
                seed=options.seed,
                ledger=ledger,
            )
            from cutover.drill.seed import seed_stores

            seeded = seed_stores(plan, options.env, plan_dir=loaded.directory, root=workdir)
            log.info("stores_seeded", stores=[f"{s.store}:{s.rows}" for s in seeded])
            traffic.start()
            time.sleep(2.0)  # customers sign up and buy before the first freeze
            if faults is not None:
                from cutover.drill.faults import apply_faults

                apply_faults(faults, estate.url, token)
            summary = execute_run(
                plan=options.plan,
                env=options.env,
                run_key=run_key,
                journal=str(workdir / "journal.db"),
                scale=scale,
                base_url=estate.base_url,
                auto_approve=True,
                on_failure="rollback" if options.drill else None,
                workdir=workdir / "run",
                data_root=workdir,
                skip_idle=True,
                rollback_at=None if options.rollback_at == "end" else options.rollback_at,
            )
            rolled: dict[str, Any] | None = None
            if summary["outcome"] == "rollback-requested" or options.rollback_at == "end":
                from cutover.cli.run import execute_rollback

                if faults is not None:
                    from cutover.drill.faults import clear_faults

                    clear_faults(faults, estate.url, token)  # the way back is rehearsed clean
                rolled = execute_rollback(
                    plan=options.plan,
                    env=options.env,
                    run_key=run_key,
                    journal=str(workdir / "journal.db"),
                    scale=scale,
                    base_url=estate.base_url,
                    workdir=workdir / "run",
                    data_root=workdir,
                    past_point_of_no_return=options.past_point_of_no_return,
                )
            time.sleep(1.0)  # a last second of sales on whatever program now serves
            traffic_result = traffic.stop()
            programs = _programs(plan, estate, token)
            state_dir = estate.state_dir
        report = reconcile(plan, options.env, ledger=ledger, workdir=workdir, state_dir=state_dir)
    finally:
        if server is not None:
            server.stop()

    from cutover.journal import Journal

    journal = Journal(workdir / "journal.db")
    clock = journal.open_run(run_key, plan.name, options.env, _unused_clock(plan))
    history = journal.history(run_key)
    notices = _read_jsonl(workdir / "run" / "notices-outbox.jsonl")
    reconciliation = {
        "sent": traffic_result.sent if traffic_result else 0,
        "acknowledged": report.acknowledged,
        "lost": len(report.lost),
        "duplicated": len(report.duplicated),
        "refused": report.refused,
        "declined_degraded": report.declined_degraded,
        "ok": report.ok,
    }
    from cutover.plan import build_timeline

    full = build_report(
        plan=plan,
        timeline=build_timeline(plan),
        run_key=run_key,
        env=options.env,
        history=history,
        clock=clock,
        reconciliation=reconciliation,
        notices=[{k: n.get(k) for k in ("at", "feature", "kind", "channel")} for n in notices],
        rollback=None
        if rolled is None
        else {
            "at": options.rollback_at or summary.get("stopped_at", ""),
            "rto_seconds": rolled["rto_seconds"],
            "systems": rolled["rolled_back"],
        },
        extra={"programs": programs},
    )
    report_path = write_report(full, workdir)
    (workdir / "reconciliation.txt").write_text(report.render())
    steps = [r for r in history if r.status == "done" and r.action == "do"]
    return {
        "seconds": round(time.monotonic() - began, 1),
        "plan": str(options.plan),
        "run_key": run_key,
        "outcome": summary["outcome"],
        "time_scale": scale,
        "phases": len(plan.phases),
        "systems": len(plan.systems),
        "steps": len(steps),
        "transactions": reconciliation["sent"],
        "acknowledged": reconciliation["acknowledged"],
        "lost": reconciliation["lost"],
        "duplicated": reconciliation["duplicated"],
        "refused": reconciliation["refused"],
        "declined_degraded": reconciliation["declined_degraded"],
        "reconciled": reconciliation["ok"],
        "notices": len(notices),
        "notice_kinds": sorted({str(n.get("kind")) for n in notices}),
        "max_write_pause_s": full["max_write_pause_s"],
        "workdir": str(workdir),
        "report": str(report_path),
        "outbox": str(workdir / "run" / "notices-outbox.jsonl"),
        "rolled_back": rolled is not None,
        "rto_seconds": rolled["rto_seconds"] if rolled else None,
        "programs": programs,
        "stopped_at": summary.get("stopped_at", ""),
    }


def _check_point(plan: Any, point: str) -> None:
    system, _, step = point.partition(":")
    try:
        keys = [s.key for s in plan.system(system).steps]
    except KeyError:
        raise UsageError(f"--rollback-at {point!r}: no system {system!r} in the plan") from None
    if step not in keys:
        raise UsageError(
            f"--rollback-at {point!r}: {system} has no step {step!r} (it has {', '.join(keys)})"
        )


def _programs(plan: Any, estate: Any, token: str) -> dict[str, str]:
    """The program each system serves now, as the systems themselves say."""
    from cutover.control.client import ControlClient

    out = {}
    for system in plan.systems:
        with ControlClient(estate.system_url(system.id), system=system.id, token=token) as client:
            out[system.id] = client.state().program
    return out


def _unused_clock(plan: Any) -> Any:
    from cutover.clock import RunClock

    return RunClock.drill(plan.starts_at, 1.0)  # ignored: the run is already recorded


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    import json

    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
