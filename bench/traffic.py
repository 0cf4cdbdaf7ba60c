"""Benchmark: the rate the simulated estate sustains, with and without freezes, and the generator's rate.

    .venv/bin/python bench/traffic.py            # a short table
    .venv/bin/python bench/traffic.py --json     # {"accepted_per_s": ..., "frozen_ratio": ..., ...}

1. `generator_per_s`: transactions the simulator generates per second (no network).
2. `accepted_per_s`: the estate (its own process, demo plan, SQLite stores, fresh
   for each phase) driven closed-loop (as fast as it answers, 32 connections): the
   highest rate it sustains. Two phases of `--seconds`, averaged.
3. `frozen_per_s`: the same closed loop while every front system is frozen in
   `buffer-writes` and unfrozen (replaying its buffer) every `--period` seconds;
   two phases, alternating with the open ones so that the stores' growth weighs
   on both alike. `frozen_ratio` = frozen_per_s / accepted_per_s: the cost of
   freezing, against the baseline of the same run on the same machine.
4. A check that both rates are sustained when paced: traffic offered at 70 % of
   each, reporting whether the estate kept up and the p99 latency.
5. `estate_cpu_ms_per_tx` (open phases; `frozen_estate_cpu_ms_per_tx` freezing): the
   estate process's CPU time per transaction sent, and `estate_cpu_share`, the share
   of one core it got. Rates depend on what else the machine runs; these much less:
   a share well under 1 says the machine, not the estate, set the rate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cutover import logs
from cutover.control import ControlClient
from cutover.plan import load_plan
from cutover.sim import running_estate
from cutover.sim.generator import Generator, Settings
from cutover.sim.traffic import TrafficResult, run_traffic

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "plans" / "demo.yaml"
TOKEN = "bench-token-5e0c1d"
PACED = 0.7
"""The paced check offers this share of the closed-loop rate..."""
KEPT_UP = 0.95
"""...and counts as kept up when at least this share of it was sent (a stall of a few
hundred milliseconds, from a WAL checkpoint or another process, is not a failure)."""


def generator_rate(customers: int, months: float) -> tuple[float, int]:
    started = time.perf_counter()
    count = sum(1 for _ in Generator(Settings(customers=customers, months=months, seed=1)).events())
    return count / (time.perf_counter() - started), count


def drive(url: str, seconds: float, rate: float, run: str, first: int) -> TrafficResult:
    return run_traffic(
        Settings(customers=5_000, months=3, seed=7, run=run, first_member=first),
        url=url,
        token=TOKEN,
        rate=rate,
        duration=seconds,
        concurrency=32,
    )


def freezer(url: str, fronts: list[str], period: float, stop: threading.Event) -> dict[str, int]:
    """Freeze every front in buffer-writes, then unfreeze, every `period` s until `stop`."""
    clients = [ControlClient(f"{url}/systems/{f}", system=f, token=TOKEN) for f in fronts]
    counts = {"cycles": 0, "replayed": 0}
    while not stop.is_set():
        cycle = counts["cycles"]
        for client in clients:
            client.freeze("buffer-writes", key=f"bench/{client.system}/f{cycle}")
        stop.wait(period)
        for client in clients:
            counts["replayed"] += client.unfreeze(key=f"bench/{client.system}/u{cycle}").replayed
        counts["cycles"] += 1
        stop.wait(period)
    for client in clients:
        client.close()
    return counts


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` so far; 0 where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    fronts: list[str], args: argparse.Namespace, *, rate: float, freezing: bool, run: str
) -> tuple[TrafficResult, dict[str, float]]:
    """One phase on a fresh estate: traffic at `rate` (100000: as fast as answered)."""
    counts: dict[str, float] = {}
    stop = threading.Event()
    with (
        tempfile.TemporaryDirectory() as work,
        running_estate(PLAN, "staging", workdir=work, token=TOKEN, process=True) as estate,
    ):
        controller = threading.Thread(
            target=lambda: counts.update(freezer(estate.url, fronts, args.period, stop))
        )
        if freezing:
            controller.start()
        assert estate.process is not None
        cpu = cpu_seconds(estate.process.pid)
        result = drive(estate.url, args.seconds, rate, run, 1)
        counts["cpu_s"] = cpu_seconds(estate.process.pid) - cpu
        stop.set()
        if freezing:
            controller.join(60)
    return result, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each measured phase")
    parser.add_argument("--period", type=float, default=1.0, help="seconds frozen, then unfrozen")
    args = parser.parse_args()
    logs.configure(level="warning", fmt="json")

    gen_per_s, generated = generator_rate(5_000, 3)
    fronts = [s.id for s in load_plan(PLAN).plan.systems if s.front]
    phases: dict[str, list[TrafficResult]] = {"open": [], "frozen": []}
    replayed = cycles = 0
    cpu: dict[str, float] = {"open": 0.0, "frozen": 0.0}
    # each phase on a fresh estate, alternating, so load from elsewhere weighs on both alike
    for round_ in range(2):
        for name in ("open", "frozen"):
            result, counts = measure(
                fronts, args, rate=100_000, freezing=name == "frozen", run=f"{name}{round_}"
            )
            phases[name].append(result)
            replayed += int(counts.get("replayed", 0))
            cycles += int(counts.get("cycles", 0))
            cpu[name] += counts["cpu_s"]
    open_rate = sum(r.accepted_per_s for r in phases["open"]) / 2
    frozen_rate = sum(r.accepted_per_s for r in phases["frozen"]) / 2
    paced: dict[str, TrafficResult] = {}
    for name, base in (("open", open_rate), ("frozen", frozen_rate)):
        paced[name], _ = measure(
            fronts, args, rate=round(base * PACED), freezing=name == "frozen", run=f"paced-{name}"
        )
    every = [*phases["open"], *phases["frozen"], *paced.values()]

    def kept_up(result: TrafficResult, base: float) -> bool:
        return result.rate >= round(base * PACED) * KEPT_UP and result.refused == 0

    def per_tx_ms(name: str) -> float:
        return round(1000 * cpu[name] / max(1, sum(r.sent for r in phases[name])), 3)

    figures: dict[str, Any] = {
        "accepted_per_s": round(open_rate, 1),
        "frozen_per_s": round(frozen_rate, 1),
        "frozen_ratio": round(frozen_rate / open_rate, 3),
        "estate_cpu_ms_per_tx": per_tx_ms("open"),
        "frozen_estate_cpu_ms_per_tx": per_tx_ms("frozen"),
        "estate_cpu_share": round(cpu["open"] / sum(r.seconds for r in phases["open"]), 2),
        "generator_per_s": round(gen_per_s, 1),
        "paced_open_per_s": round(paced["open"].rate, 1),
        "paced_open_kept_up": kept_up(paced["open"], open_rate),
        "paced_open_p99_ms": round(paced["open"].percentile(99), 2),
        "paced_frozen_per_s": round(paced["frozen"].rate, 1),
        "paced_frozen_kept_up": kept_up(paced["frozen"], frozen_rate),
        "paced_frozen_p99_ms": round(paced["frozen"].percentile(99), 2),
        "open_p50_ms": round(sum(r.percentile(50) for r in phases["open"]) / 2, 2),
        "frozen_p50_ms": round(sum(r.percentile(50) for r in phases["frozen"]) / 2, 2),
        "buffered": sum(r.buffered for r in every),
        "freeze_cycles": cycles,
        "replayed": replayed,
        "refused": sum(r.refused for r in every),
        "generated": generated,
        "seconds_per_phase": args.seconds,
        "machine": f"{platform.machine()} · {platform.python_implementation()} {platform.python_version()}",
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    f = figures
    print(
        f"generator         {f['generator_per_s']:>9,.0f} tx/s generated   ({generated:,} for 5,000 members over 3 months)"
    )
    print(
        f"estate, open      {f['accepted_per_s']:>9,.1f} accepted/s       (closed loop, 32 connections, p50 {f['open_p50_ms']} ms)"
    )
    print(
        f"estate, freezing  {f['frozen_per_s']:>9,.1f} accepted/s       (fronts frozen/unfrozen every {args.period:g} s: {cycles} cycles, {replayed:,} replayed)"
    )
    print(
        f"frozen_ratio      {f['frozen_ratio']:>9.3f}                  (freezing / open, same run)"
    )
    print(
        f"paced at 70 %     {f['paced_open_per_s']:>9,.1f} /s open (kept up: {f['paced_open_kept_up']}, p99 {f['paced_open_p99_ms']} ms) · {f['paced_frozen_per_s']:,.1f} /s freezing (kept up: {f['paced_frozen_kept_up']}, p99 {f['paced_frozen_p99_ms']} ms)"
    )
    print(
        f"estate CPU        {f['estate_cpu_ms_per_tx']:>9.3f} ms/tx open · {f['frozen_estate_cpu_ms_per_tx']:.3f} ms/tx freezing (it got {f['estate_cpu_share']:.0%} of a core)"
    )
    print(f"refused           {f['refused']:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
