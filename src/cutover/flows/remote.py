"""Starting a cutover or a rollback from its deployment, and following it to the end.

`cutover run --deployment` asks the server for a flow run of
`cutover/<plan>-<env>` with the request the CLI built (the deployment's own
parameters, with this run's key and options), prints where to watch it, then
follows its state: a gate waiting, the run resuming, the end. The outcome is in
the final state's message (`outcome: completed`), put there by the flow itself, so
the release manager's terminal and the UI read the same thing. Ctrl-C detaches:
the run goes on, on its worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cutover.engine.request import RunRequest
from cutover.errors import UsageError

from .names import CUTOVER_FLOW, ROLLBACK_FLOW

FOLLOW_SECONDS = 2.0


@dataclass(frozen=True)
class RemoteEnd:
    """How a flow run started from a deployment ended."""

    flow_run_id: str
    state: str
    message: str

    @property
    def outcome(self) -> str:
        """`completed`, `rolled-back`, ... from the flow's own message; else the state."""
        if self.message.startswith("outcome: "):
            return self.message.removeprefix("outcome: ").strip()
        return self.state.lower()

    @property
    def gate_timed_out(self) -> bool:
        return "GateTimeout" in self.message


def deployed_request(flow: str, name: str) -> RunRequest:
    """The request a deployment was created with (`cutover deploy`); UsageError if missing."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    full = f"{flow}/{name}"
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(full)
        except ObjectNotFound:
            raise UsageError(
                f"deployment {full} does not exist on this Prefect server: "
                "run `cutover deploy PLAN --env ENV` first"
            ) from None
        except Exception as exc:
            raise UsageError(f"the Prefect server cannot be reached: {exc}") from None
    return RunRequest.model_validate(deployment.parameters["request"])


def start(flow: str, name: str, request: RunRequest) -> str:
    """Create the flow run from the deployment; its id."""
    from prefect.deployments import run_deployment

    tags = [f"run:{request.run_key}", f"env:{request.env}"]
    if flow == ROLLBACK_FLOW:
        tags.append("rollback")
    run: Any = run_deployment(
        name=f"{flow}/{name}",
        parameters={"request": request.model_dump(mode="json")},
        timeout=0,
        tags=tags,
        as_subflow=False,
    )
    return str(run.id)


def follow(flow_run_id: str, say: Callable[[str], None]) -> RemoteEnd:
    """Poll the run until it ends, saying each change of state once (gates included)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    seen = ""
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(UUID(flow_run_id))
            state = run.state
            name = (state.name if state else None) or "Pending"
            message = (state.message or "") if state else ""
            if state is not None and state.is_final():
                return RemoteEnd(flow_run_id, name, message)  # the caller says how it ended
            if name != seen:
                seen = name
                say(_describe(name, message))
            time.sleep(FOLLOW_SECONDS)


def _describe(state: str, message: str) -> str:
    if state == "Paused":
        return "paused at a gate: sign it in the Prefect UI or with `cutover gate`"
    if state == "Scheduled":
        return "scheduled: waiting for a worker of the control pool to pick it up"
    return f"{state.lower()}" + (f": {message}" if message and state != "Completed" else "")


def ui_url(flow_run_id: str) -> str:
    from prefect.settings import PREFECT_UI_URL

    base = PREFECT_UI_URL.value() or ""
    return f"{base}/runs/flow-run/{flow_run_id}" if base else flow_run_id


__all__ = ["CUTOVER_FLOW", "ROLLBACK_FLOW", "RemoteEnd", "deployed_request", "follow", "start"]
