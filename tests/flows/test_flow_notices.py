"""Notices in a live compressed run: a slow system re-times its own window (extended) and trips
its own budget; the healthy systems, whatever the orchestration around them, trip nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from cutover.journal import Journal
from cutover.plan import build_timeline, load_plan
from cutover.sim.server import running_estate
from support import PLANS
from support_flows import run_demo

DEMO = PLANS / "demo.yaml"


def test_a_slow_system_gets_exactly_its_own_extended_notices_and_budget_gate(
    prefect_server: None, workdir: Path
) -> None:
    """mobile-app answers every call 3 s late (30 plan-minutes at 600x): its freeze and
    unfreeze (planned 5m each) run 25 minutes over, so the window of the one feature it
    degrades is extended and its 45m budget gate fires; loyalty-core, on time, degrades
    redeem-rewards with no extension and no gate."""
    plan = load_plan(DEMO).plan
    planned = build_timeline(plan).feature("rewards-in-app").windows[0]
    with running_estate(DEMO, "staging", workdir=workdir) as estate:
        httpx.put(
            f"{estate.url}/systems/mobile-app/sim/v1/faults",
            json={"latency_ms": 3000},
            headers={"Authorization": f"Bearer {estate.token}"},
        ).raise_for_status()
        summary = run_demo(workdir, "slow-app", estate.base_url, scale=600.0)
    assert summary.outcome == "completed"
    outbox = [
        json.loads(line)
        for line in (workdir / "run" / "notices-outbox.jsonl").read_text().splitlines()
    ]
    assert {n["feature"] for n in outbox if n["kind"] == "extended"} == {"rewards-in-app"}
    app = [n for n in outbox if n["feature"] == "rewards-in-app"]
    kinds = [n["kind"] for n in app if n["channel"] == "app-banner"]
    assert kinds[0] == "advance" and "extended" in kinds and kinds[-1] == "restored"
    extended = next(n for n in app if n["kind"] == "extended")
    assert datetime.fromisoformat(extended["window"]["end"]) > planned.end
    assert "longer than planned" in extended["text"] or "back by" in extended["text"]
    assert kinds.count("extended") <= 3
    restored = next(n for n in app if n["kind"] == "restored")
    assert datetime.fromisoformat(restored["at"]) > planned.end + timedelta(minutes=5)
    decisions = Journal(workdir / "journal.db").decisions("slow-app")
    budget = [d for d in decisions if d.gate.startswith("budget-")]
    assert {d.gate for d in budget} == {"budget-fronts-rewards-in-app-0"}
    assert budget[0].decision == "continue"
