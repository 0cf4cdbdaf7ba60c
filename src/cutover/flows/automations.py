"""Crash detection for a self-hosted Prefect server, safe for multi-day gates.

Prefect's documented "zombie flow" automation marks a flow run Crashed when its
heartbeats stop. A cutover's gate may be a paused or suspended run for hours or
days: those states are listed as expected events, so a run waiting for a lead's
sign-off is never marked crashed; only a run whose process died is.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

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
                message="No heartbeat: the process running this flow run died. "
                "Re-run the cutover with the same run key to resume.",
            )
        ],
    )


def ensure_zombie_automation(within: timedelta = timedelta(seconds=90)) -> str:
    """Create the automation unless one with the same name exists; returns its id."""
    existing: Any
    try:
        existing = Automation.read(name=NAME)
    except ValueError:
        existing = None
    if existing is not None:
        return str(existing.id)
    created: Any = zombie_automation(within).create()
    return str(created.id)
