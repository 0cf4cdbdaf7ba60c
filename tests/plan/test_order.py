"""Dependency walks of a plan: run order, what waits on a failure, rollback waves."""

from __future__ import annotations

from cutover.plan import load_plan
from cutover.plan.order import dependents, find_cycle, ordered, rollback_waves
from support import PLANS


def test_run_order_puts_each_system_after_its_dependencies() -> None:
    plan = load_plan(PLANS / "rewards-tiers.yaml").plan
    for phase in plan.phases:
        order = ordered(plan, reversed(phase.systems))
        assert sorted(order) == sorted(phase.systems)
        for position, system_id in enumerate(order):
            deps = set(plan.system(system_id).depends_on) & set(phase.systems)
            assert deps <= set(order[:position]), system_id


def test_dependents_reach_through_chains() -> None:
    plan = load_plan(PLANS / "demo.yaml").plan
    every = [s.id for s in plan.systems]
    assert dependents(plan, every, {"loyalty-core"}) == {"pos-stores", "mobile-app", "crm-email"}
    assert dependents(plan, every, {"mobile-app"}) == {"crm-email"}
    assert dependents(plan, every, {"crm-email"}) == set()


def test_rollback_waves_take_later_phases_and_dependents_first() -> None:
    plan = load_plan(PLANS / "demo.yaml").plan
    assert rollback_waves(plan) == [["crm-email"], ["pos-stores", "mobile-app"], ["loyalty-core"]]


def test_a_cycle_is_found_with_its_path() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": []}) is None
