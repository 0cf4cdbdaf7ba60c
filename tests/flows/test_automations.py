"""The paging automations: one per department, off, matching the events that name it."""

from __future__ import annotations

from typing import Any

from cutover.flows.automations import ensure_lead_automations
from cutover.plan import load_plan
from support import PLANS


def test_one_paging_automation_per_department_created_once_and_off(prefect_server: None) -> None:
    from prefect.automations import Automation

    plan = load_plan(PLANS / "demo.yaml").plan
    names = ensure_lead_automations(plan)
    assert names == [f"cutover: page {d.id}" for d in plan.departments]
    assert ensure_lead_automations(plan) == names  # a second time creates nothing more
    digital: Any = Automation.read(name="cutover: page digital")
    assert digital.enabled is False
    assert "cutover.gate.waiting" in digital.trigger.expect
    related = digital.trigger.match_related
    assert related["prefect.resource.id"] in (
        "cutover.department.digital",
        ["cutover.department.digital"],
    )
    assert "Hana Sato" in digital.description
