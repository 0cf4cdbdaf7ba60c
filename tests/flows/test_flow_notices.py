"""Notices in a live compressed run: a slow system re-times its window (extended) and trips its budget."""

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


def test_a_slow_switch_publishes_extended_with_a_later_end_and_raises_the_budget_gate(
    prefect_server: None, workdir: Path
) -> None:
    plan = load_plan(DEMO).plan
    planned = build_timeline(plan).feature("rewards-in-app").windows[0]
    with running_estate(DEMO, "staging", workdir=workdir) as estate:
        httpx.put(
            f"{estate.url}/systems/mobile-app/sim/v1/faults",
            json={"calls": ["switch"], "latency_ms": 5000},
            headers={"Authorization": f"Bearer {estate.token}"},
        ).raise_for_status()
        summary = run_demo(workdir, "slow-app", estate.base_url, scale=600.0)
    assert summary.outcome == "completed"
    outbox = [
        json.loads(line)
        for line in (workdir / "run" / "notices-outbox.jsonl").read_text().splitlines()
    ]
    app = [n for n in outbox if n["feature"] == "rewards-in-app"]
    kinds = [n["kind"] for n in app if n["channel"] == "app-banner"]
    assert kinds[0] == "advance" and "extended" in kinds and kinds[-1] == "restored"
    extended = next(n for n in app if n["kind"] == "extended")
    assert datetime.fromisoformat(extended["window"]["end"]) > planned.end
    assert "longer than planned" in extended["text"] or "back by" in extended["text"]
    restored = next(n for n in app if n["kind"] == "restored")
    assert datetime.fromisoformat(restored["at"]) > planned.end + timedelta(minutes=5)
    decisions = Journal(workdir / "journal.db").decisions("slow-app")
    budget = [d for d in decisions if d.gate.startswith("budget-")]
    assert budget and budget[0].decision == "continue"
