"""The names that tie a plan's placement to the Prefect server: flows, deployments, pools.

Kept apart from `deploy` (which imports the flows to describe their parameters) so
that the flows themselves can name their deployments without an import circle.
"""

from __future__ import annotations

import re

SYSTEM_FLOW = "cutover-system"
CUTOVER_FLOW = "cutover"
ROLLBACK_FLOW = "cutover-rollback"
ENTRYPOINTS = {
    CUTOVER_FLOW: "cutover.flows.cutover_flow.cutover",
    SYSTEM_FLOW: "cutover.flows.system_flow.system_cutover",
    ROLLBACK_FLOW: "cutover.flows.rollback_flow.rollback",
}
HEARTBEAT_SECONDS = 30
"""Flow runs on workers heartbeat every 30 s (Prefect's minimum): the crash automation
marks a run Crashed when three in a row are missing (`cutover server start`)."""


def deployment_name(plan_stem: str, env: str) -> str:
    """`<plan file stem>-<env>`, in the characters Prefect names allow everywhere."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{plan_stem}-{env}".lower()).strip("-")


def system_deployment(pool: str) -> str:
    return f"{SYSTEM_FLOW}/{pool}"
