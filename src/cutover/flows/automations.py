"""Automations for a self-hosted Prefect server: crash detection, and paging each lead.

Prefect's documented "zombie flow" automation marks a flow run Crashed when its
heartbeats stop. A cutover's gate may be a paused or suspended run for hours or
days: those states are listed as expected events, so a run waiting for a lead's
sign-off is never marked crashed; only a run whose process died is.

With a plan, one automation per department matches the gate and phase events that
name it (`cutover.department.<id>` as a related resource); they are created off,
with no action, for someone to point at the lead's Slack or email block.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState, DoNothing
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

from cutover.plan.models import Department, Plan

NAME = "cutover: crash zombie flow runs"


def zombie_automation(within: timedelta = timedelta(seconds=90)) -> Automation:
    return Automation(
        name=NAME,
        description="Marks cutover flow runs Crashed when their heartbeats stop; "
        "paused and suspended gates are left alone.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
                "prefect.flow-run.Paused",
                "prefect.flow-run.Suspended",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=within,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message="No heartbeat: the process running this flow run died (its worker "
                "or host). Answer retry at the cutover's decision gate, or re-run the "
                "cutover with the same run key: done steps are not repeated.",
            )
        ],
    )


def ensure_zombie_automation(within: timedelta = timedelta(seconds=90)) -> str:
    """Create the automation unless one with the same name and window exists; its id.

    One with another window (`cutover server start --crash-after`) is replaced."""
    existing: Any
    try:
        existing = Automation.read(name=NAME)
    except ValueError:
        existing = None
    if existing is not None:
        if getattr(existing.trigger, "within", None) == within:
            return str(existing.id)
        existing.delete()
    created: Any = zombie_automation(within).create()
    return str(created.id)


def page_lead_automation(department: Department) -> Automation:
    """Off until someone points it at the lead's notification block (docs/gates.md)."""
    return Automation(
        name=f"cutover: page {department.id}",
        description=f"Page {department.lead} ({department.name}) when a gate waits for "
        "the department or one of its systems stops a phase. Off: edit its action to "
        "Send a notification (Slack, email block), then enable it.",
        enabled=False,
        trigger=EventTrigger(
            expect={"cutover.gate.waiting", "cutover.phase.stopped", "cutover.gate.refused"},
            match_related=ResourceSpecification(
                {"prefect.resource.id": f"cutover.department.{department.id}"}
            ),
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[DoNothing()],
    )


def ensure_lead_automations(plan: Plan) -> list[str]:
    """One paging automation per department of the plan, created (disabled) if missing."""
    names = []
    for department in plan.departments:
        automation = page_lead_automation(department)
        found: Any
        try:
            found = Automation.read(name=automation.name)
        except ValueError:
            found = None
        if found is None:
            created: Any = automation.create()
            del created
        names.append(automation.name)
    return names
