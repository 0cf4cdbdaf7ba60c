"""Reconciliation: a clean run passes; every kind of damage is found and named."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sim_support import TOKEN, control

from cutover.plan import load_plan
from cutover.sim import RunningEstate, running_estate
from cutover.sim.generator import Settings
from cutover.sim.reconcile import Report, reconcile
from cutover.sim.traffic import TrafficResult, run_traffic
from support import PLANS


@dataclass
class Run:
    estate: RunningEstate
    ledger: Path
    result: TrafficResult

    def reconcile(self) -> Report:
        plan = load_plan(PLANS / "demo.yaml").plan
        return reconcile(
            plan,
            "staging",
            ledger=self.ledger,
            workdir=self.estate.workdir,
            state_dir=self.estate.state_dir,
        )

    def db(self, name: str) -> sqlite3.Connection:
        return sqlite3.connect(self.estate.workdir / f"var/staging/{name}.db", isolation_level=None)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Four seconds of traffic through freezes, a core migration and switches; then stopped."""
    workdir = tmp_path_factory.mktemp("reconcile")
    ledger = workdir / "ledger.jsonl"
    with running_estate(PLANS / "demo.yaml", "staging", workdir=workdir, token=TOKEN) as estate:
        results: list[TrafficResult] = []
        traffic = threading.Thread(
            target=lambda: results.append(
                run_traffic(
                    Settings(customers=800, seed=11),
                    url=estate.url,
                    token=TOKEN,
                    rate=500,
                    duration=4,
                    ledger=ledger,
                )
            )
        )
        traffic.start()
        with httpx.Client(base_url=estate.url, headers={"Authorization": f"Bearer {TOKEN}"}) as h:
            steps = [
                ("pos-stores", "freeze", {"mode": "buffer-writes"}),
                ("mobile-app", "freeze", {"mode": "read-only"}),
                ("loyalty-core", "freeze", {"mode": "buffer-writes"}),
                ("loyalty-core", "jobs", {"job": "copy-members"}),
                ("loyalty-core", "switch", {}),
                ("loyalty-core", "unfreeze", {}),
                ("pos-stores", "switch", {}),
                ("pos-stores", "unfreeze", {}),
                ("mobile-app", "switch", {}),
                ("mobile-app", "unfreeze", {}),
            ]
            for i, (system, call, body) in enumerate(steps):
                time.sleep(0.3)
                assert control(h, system, call, key=f"k{i}", **body).status_code < 300
        traffic.join(30)
    yield Run(estate, ledger, results[0])


def test_a_clean_run_reconciles(run: Run) -> None:
    """Everything acknowledged is present once; balances replay across the switch."""
    report = run.reconcile()
    assert report.ok, report.render()
    assert report.acknowledged == run.result.accepted > 0  # how many: a bench question
    assert report.present_once == report.acknowledged
    assert report.outcomes["buffered"] > 0 and report.declined_degraded > 0
    assert report.refused == 0 and not report.refused_while_buffering
    assert "members-new (tiers)" in report.render()


def test_damage_is_found_and_named(run: Run) -> None:
    """A lost row, a doubled row, a wrong balance, a mispriced row: each named; exit says FAIL."""
    new, legacy = run.db("members-new"), run.db("members-legacy")
    lost = new.execute(
        "select txn_id from transactions where kind = 'purchase' limit 1"
    ).fetchone()[0]
    doubled = new.execute(
        "select * from transactions where kind = 'purchase' and txn_id != ? limit 1", (lost,)
    ).fetchone()
    wrong = new.execute("select member_id from members limit 1").fetchone()[0]
    priced = new.execute(
        "select txn_id from transactions where kind = 'partner_purchase' limit 1"
    ).fetchone()[0]
    new.execute("delete from transactions where txn_id = ?", (lost,))
    legacy.execute(
        "insert into transactions values (?, ?, ?, ?, ?, ?, ?)",
        (*doubled[:6], "2099-01-01T00:00:00.000000Z"),
    )
    new.execute("update members set points = points + 1 where member_id = ?", (wrong,))
    new.execute(
        "update transactions set points_delta_cents = points_delta_cents + 1 where txn_id = ?",
        (priced,),
    )
    report = run.reconcile()
    text = report.render()
    assert not report.ok and "FAIL" in text
    assert any(item.startswith(lost) for item in report.lost)
    assert any(item.startswith(doubled[0]) for item in report.duplicated)
    assert any(f"member {wrong}:" in item for item in report.balance_mismatches)
    assert any(item.startswith(priced) for item in report.mispriced)


def test_refusals_while_buffering_are_flagged(tmp_path: Path) -> None:
    """An injected fault while the POS buffers: counted as refused, and flagged by name."""
    ledger = tmp_path / "ledger.jsonl"
    with running_estate(PLANS / "demo.yaml", "staging", workdir=tmp_path, token=TOKEN) as estate:
        with httpx.Client(base_url=estate.url, headers={"Authorization": f"Bearer {TOKEN}"}) as h:
            control(h, "pos-stores", "freeze", mode="buffer-writes", key="f")
            h.put("/systems/pos-stores/sim/v1/faults", json={"error_rate": 0.2, "seed": 3})
            run_traffic(
                Settings(customers=50, seed=2),
                url=estate.url,
                token=TOKEN,
                rate=2000,
                count=300,
                ledger=ledger,
            )
            h.put("/systems/pos-stores/sim/v1/faults", json={})
            control(h, "pos-stores", "unfreeze", key="u")
        plan = load_plan(PLANS / "demo.yaml").plan
        report = reconcile(
            plan, "staging", ledger=ledger, workdir=tmp_path, state_dir=estate.state_dir
        )
    assert report.refused > 0 and len(report.refused_while_buffering) == report.refused
    assert "injected fault" in report.refused_while_buffering[0]
    assert not report.ok


def test_members_held_before_the_traffic_replay_from_an_inferred_opening(tmp_path: Path) -> None:
    """Members already in the legacy store (seeded, migrated in) are replayed, not flagged."""
    ledger = tmp_path / "ledger.jsonl"
    with running_estate(PLANS / "demo.yaml", "staging", workdir=tmp_path, token=TOKEN) as estate:
        with sqlite3.connect(tmp_path / "var/staging/members-legacy.db") as db:
            db.execute(
                "insert into members values (1, 'old@example.com', 'active', 98765, 98765, '2026-01-01')"
            )
        with httpx.Client(base_url=estate.url, headers={"Authorization": f"Bearer {TOKEN}"}) as h:
            h.post(
                "/systems/pos-stores/api/v1/transactions",
                json={"txn_id": "x1", "kind": "purchase", "member_id": 1, "amount_cents": 999},
            )
        run_traffic(
            Settings(customers=30, seed=1, first_member=100),
            url=estate.url,
            token=TOKEN,
            rate=5000,
            count=100,
            ledger=ledger,
        )
    plan = load_plan(PLANS / "demo.yaml").plan
    report = reconcile(plan, "staging", ledger=ledger, workdir=tmp_path, state_dir=estate.state_dir)
    assert report.ok, report.render()
    assert report.openings_inferred == 1 and "1 opening balances inferred" in report.render()


def test_public_surface() -> None:
    """What `cutover.sim` exports (the cutover flow and the demo depend on it)."""
    import cutover.sim

    assert set(cutover.sim.__all__) == {
        "Event",
        "Generator",
        "Ledger",
        "Report",
        "RunningEstate",
        "Settings",
        "TrafficResult",
        "default_state_dir",
        "read_ledger",
        "run_traffic",
        "running_estate",
    }
    for name in cutover.sim.__all__:
        assert getattr(cutover.sim, name) is not None
    from cutover.sim.reconcile import reconcile as function

    assert callable(function)
