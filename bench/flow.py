"""Benchmark the cutover flow: the demo's wall time, orchestration overhead per step, concurrency.

    .venv/bin/python bench/flow.py [--plan plans/rewards-tiers.yaml] [--json]

1. runs `cutover demo --json` (estate, traffic, the whole plan compressed) and reads its journal;
2. overhead per step = the gaps between one step's end and the next step's start within a
   system (task creation, journaling, events: everything that is not the step's own work),
   averaged over all steps;
3. baseline, measured in the same run: a bare Prefect task that does nothing, called
   sequentially in a flow on a temporary server (heartbeats off, as in drills);
4. concurrency achieved: the most systems whose steps were running at the same moment.

Prints each figure and its ratio to the baseline; with --json, one JSON object as the last
line (keys `demo_seconds`, `steps`, `overhead_per_step_s`, `overhead_ratio`,
`max_concurrent_systems`, `bare_task_s`, and from the demo and its report `max_write_pause_s`
(buffer-writes freezes), `max_write_pause_any_s`, `p95_write_pause_s`, `tx_per_s`,
`orchestration_per_step_s`, `extended_notices`, `budget_gates`; with `--forecast`, a second
demo is run and `forecast_error_max` is the largest per-phase error of the first one's
calibrated forecast of the second).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def run_demo(plan: Path, home: Path, prefect_db: str | None = None) -> dict[str, Any]:
    exe = ROOT / ".venv" / "bin" / "cutover"
    command = [
        str(exe) if exe.exists() else "cutover",
        "demo",
        "--plan",
        str(plan),
        "--json",
        "--home",
        str(home),
    ]
    began = time.monotonic()
    env = dict(os.environ)
    if prefect_db:  # the temporary server on this database instead of SQLite
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_db
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900, env=env)
    if proc.returncode != 0:
        sys.exit(f"demo failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.monotonic() - began
    return result


def journal_figures(workdir: Path, run_key: str) -> dict[str, Any]:
    from cutover.journal import Journal

    history = Journal(workdir / "journal.db").history(run_key)
    by_system: dict[str, list[Any]] = {}
    for record in history:
        if record.action == "do":
            by_system.setdefault(record.system, []).append(record)
    gaps: list[float] = []
    spans: list[tuple[float, float]] = []
    for records in by_system.values():
        starts = [r for r in records if r.status == "started"]
        dones = [r for r in records if r.status == "done"]
        if not starts or not dones:
            continue
        spans.append((starts[0].at.timestamp(), dones[-1].at.timestamp()))
        ordered = sorted(records, key=lambda r: r.at)
        for before, after in itertools.pairwise(ordered):
            if before.status == "done" and after.status == "started":
                gaps.append((after.at - before.at).total_seconds())
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return {
        "overhead_per_step_s": statistics.mean(gaps) if gaps else 0.0,
        "gaps": len(gaps),
        "max_concurrent_systems": peak,
    }


def bare_task_seconds(count: int = 60) -> float:
    """Per-call cost of a Prefect task that does nothing, in a flow on a temporary server."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    from prefect import flow, task
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    @task
    def nothing() -> None:
        return None

    @flow
    def bare(n: int) -> float:
        began = time.perf_counter()
        for _ in range(n):
            nothing()
        return (time.perf_counter() - began) / n

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        bare(5)  # warm up the server and the client
        return float(bare(count))


def forecast_errors(plan_path: Path, first: Path, second: Path) -> dict[str, float]:
    """Per phase: |forecast - measured| / measured, where the forecast is the timeline
    calibrated by the first drill's report (`cutover show --calibrate`) and the measured
    one is the same timeline calibrated by the second drill's own step durations."""
    from cutover.plan import load_plan
    from cutover.plan.calibrate import measured_durations
    from cutover.plan.timeline import build_timeline

    plan = load_plan(plan_path).plan
    env = "staging"
    forecast = build_timeline(plan, measured_durations(plan, [first]), env=env)
    measured = build_timeline(plan, measured_durations(plan, [second]), env=env)
    errors = {}
    for want, got in zip(forecast.phases, measured.phases, strict=True):
        real = (got.end - got.start).total_seconds()
        guess = (want.end - want.start).total_seconds()
        errors[want.phase] = abs(guess - real) / real if real > 0 else 0.0
    return errors


def _report(demo: dict[str, Any]) -> dict[str, Any]:
    """The drill report's JSON beside report.md, if the demo wrote one."""
    path = Path(demo["workdir"]) / "report.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, default=ROOT / "plans" / "rewards-tiers.yaml")
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench-flow")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--prefect-db",
        help="database of the temporary Prefect server, e.g. "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/prefect (default: SQLite)",
    )
    parser.add_argument(
        "--forecast",
        action="store_true",
        help="run a second demo and measure how well the first one's report forecasts it",
    )
    args = parser.parse_args()

    demo = run_demo(args.plan, args.home, args.prefect_db)
    errors: dict[str, float] = {}
    if args.forecast:
        second = run_demo(args.plan, args.home, args.prefect_db)
        errors = forecast_errors(
            args.plan,
            Path(demo["workdir"]) / "report.json",
            Path(second["workdir"]) / "report.json",
        )
        for phase, error in errors.items():
            print(f"forecast error, phase {phase:<24} {error:6.1%}")
    figures = journal_figures(Path(demo["workdir"]), demo["run_key"])
    bare = bare_task_seconds()
    ratio = figures["overhead_per_step_s"] / bare if bare > 0 else float("inf")
    result = {
        "demo_seconds": demo["seconds"],
        "steps": demo["steps"],
        "systems": demo["systems"],
        "overhead_per_step_s": round(figures["overhead_per_step_s"], 4),
        "bare_task_s": round(bare, 4),
        "overhead_ratio": round(ratio, 2),
        "max_concurrent_systems": figures["max_concurrent_systems"],
        "orchestration_per_step_s": demo.get("orchestration_per_step_s"),
        "extended_notices": demo.get("extended_notices"),
        "budget_gates": demo.get("budget_gates"),
        "lost": demo["lost"],
        "refused": demo["refused"],
        "max_write_pause_s": demo["max_write_pause_s"],
        "max_write_pause_any_s": demo.get("max_write_pause_any_s"),
        "p95_write_pause_s": _report(demo).get("p95_write_pause_s"),
        "tx_per_s": demo.get("tx_per_s"),
        "forecast_error_max": round(max(errors.values()), 3) if errors else None,
        "prefect_db": "postgresql" if args.prefect_db else "sqlite",
    }
    print(
        f"demo ({args.plan.name}): {demo['seconds']:.1f} s for {demo['steps']} steps "
        f"of {demo['systems']} systems (target: under 180 s)"
    )
    print(
        f"orchestration overhead per step: {figures['overhead_per_step_s'] * 1000:.0f} ms "
        f"({figures['gaps']} gaps measured)"
    )
    print(f"baseline, a bare Prefect task:   {bare * 1000:.1f} ms  -> ratio {ratio:.1f}x")
    print(f"most systems running at once:    {figures['max_concurrent_systems']}")
    print(
        f"longest write pause:             {demo['max_write_pause_s']:.3f} s buffer-writes, "
        f"{demo.get('max_write_pause_any_s') or 0:.3f} s any freeze (p95 "
        f"{_report(demo).get('p95_write_pause_s') or 0:.3f} s)"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
