"""Sustained traffic through freezes: nothing lost, nothing doubled, nothing refused."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sim_support import TOKEN

from cutover.control import ControlClient
from cutover.plan import load_plan
from cutover.sim import running_estate
from cutover.sim.generator import Settings
from cutover.sim.reconcile import reconcile
from cutover.sim.traffic import TrafficResult, run_traffic
from support import PLANS

RATE = 300
SECONDS = 20


@pytest.mark.slow
def test_traffic_at_300_per_second_through_two_buffer_freezes(tmp_path: Path) -> None:
    """Every front frozen in buffer-writes and unfrozen twice under 300 tx/s for 20 s.

    The estate runs in its own process (as in a drill); reconciliation afterwards
    must report 0 lost, 0 duplicated, 0 refused, and every balance replaying.
    """
    ledger = tmp_path / "ledger.jsonl"
    plan = load_plan(PLANS / "demo.yaml").plan
    fronts = [s.id for s in plan.systems if s.front]
    with running_estate(
        PLANS / "demo.yaml", "staging", workdir=tmp_path, token=TOKEN, process=True
    ) as estate:
        results: list[TrafficResult] = []
        traffic = threading.Thread(
            target=lambda: results.append(
                run_traffic(
                    Settings(customers=5_000, months=3, seed=42),
                    url=estate.url,
                    token=TOKEN,
                    rate=RATE,
                    duration=SECONDS,
                    ledger=ledger,
                )
            )
        )
        clients = [ControlClient(estate.system_url(f), system=f, token=TOKEN) for f in fronts]
        started = time.monotonic()
        traffic.start()
        replayed = 0
        for cycle, (freeze_at, unfreeze_at) in enumerate(((4, 8), (12, 16))):
            time.sleep(max(0.0, started + freeze_at - time.monotonic()))
            for client in clients:
                client.freeze("buffer-writes", key=f"drill/{client.system}/freeze-{cycle}")
            time.sleep(max(0.0, started + unfreeze_at - time.monotonic()))
            for client in clients:
                assert client.state().buffered > 0
                replayed += client.unfreeze(key=f"drill/{client.system}/unfreeze-{cycle}").replayed
        traffic.join(SECONDS + 30)
        for client in clients:
            assert client.state().frozen is False
            client.close()
    result = results[0]
    report = reconcile(plan, "staging", ledger=ledger, workdir=tmp_path, state_dir=estate.state_dir)
    assert report.ok, report.render()
    assert (len(report.lost), len(report.duplicated), report.refused) == (0, 0, 0)
    assert not report.refused_while_buffering and report.declined_degraded == 0
    assert result.buffered == replayed > 0  # how many depends on the machine's pace: no rate here
    assert report.acknowledged == result.accepted == report.present_once
    assert result.unknown == 0 and result.refused == 0


def test_every_front_of_the_full_estate_takes_traffic(tmp_path: Path) -> None:
    """The case-A plan: POS, partner POS, apps, web and customer service all receive their share."""
    ledger = tmp_path / "ledger.jsonl"
    with running_estate(
        PLANS / "rewards-tiers.yaml", "staging", workdir=tmp_path, token=TOKEN
    ) as estate:
        result = run_traffic(
            Settings(customers=300, months=1, seed=5),
            url=estate.url,
            token=TOKEN,
            rate=5_000,
            count=2_500,
            ledger=ledger,
        )
        systems = {s.id for s in estate.estate.fronts}
        used = {s.id for s in estate.estate.fronts if s.store.accepted()}
    assert result.accepted + result.declined == result.sent > 2_000
    assert result.declined < result.sent / 100  # business declines only (not enough points)
    assert used == systems and len(systems) >= 5
    plan = load_plan(PLANS / "rewards-tiers.yaml").plan
    report = reconcile(plan, "staging", ledger=ledger, workdir=tmp_path, state_dir=estate.state_dir)
    assert report.ok, report.render()
