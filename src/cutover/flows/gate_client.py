"""`cutover gate list|approve|hold|decide`: sign off or decide a paused cutover from a terminal.

It does what the Prefect UI's Resume form does: it finds the paused flow run of
the cutover (by run key or flow-run id) and resumes it with the typed input the
gate waits for. The flow validates the input; a department that is not (or no
longer) awaited is refused and the run stays paused.
"""

from __future__ import annotations

import uuid
from typing import Any

from cutover.errors import UsageError


def _client() -> Any:
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def paused_runs(run: str | None) -> list[Any]:
    """Paused cutover flow runs: the one named by `run` (key or id), or all of them."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateName,
        FlowRunFilterTags,
    )

    state = FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused", "Suspended"]))
    flow_filter = FlowRunFilter(state=state)
    if run is not None:
        try:
            flow_filter = FlowRunFilter(state=state, id=FlowRunFilterId(any_=[uuid.UUID(run)]))
        except ValueError:
            flow_filter = FlowRunFilter(state=state, tags=FlowRunFilterTags(all_=[f"run:{run}"]))
    with _client() as client:
        return list(client.read_flow_runs(flow_run_filter=flow_filter))


def one_paused(run: str) -> Any:
    runs = paused_runs(run)
    if not runs:
        raise UsageError(f"no paused cutover run {run!r}: nothing is waiting for a decision")
    return runs[0]


def waiting_for(flow_run: Any) -> dict[str, Any]:
    """The input schema the paused run waits for (from Prefect's run input store)."""
    from prefect.input.run_input import keyset_from_paused_state

    with _client() as client:
        keyset = keyset_from_paused_state(flow_run.state)
        value = client.read_flow_run_input(flow_run.id, keyset["schema"])
    import json

    return dict(json.loads(value)) if value else {}


def awaited_departments(schema: dict[str, Any]) -> list[str]:
    """The departments a sign-off form still offers (an enum, or a single const)."""
    department = schema.get("properties", {}).get("department", {})
    if "const" in department:
        return [str(department["const"])]
    values = department.get("enum") or [c.get("const") for c in department.get("anyOf", [])]
    return [str(v) for v in values if v is not None]


def resume(run: str, answer: dict[str, Any]) -> str:
    """Resume the paused run with `answer`; returns the flow run's name."""
    from prefect.flow_runs import resume_flow_run

    flow_run = one_paused(run)
    schema = waiting_for(flow_run)
    fields = set(schema.get("properties", {}))
    if fields and not set(answer) <= fields:
        kind = "a sign-off gate" if "department" in fields else "a decision gate"
        raise UsageError(f"run {run!r} is waiting at {kind}; it takes {', '.join(sorted(fields))}")
    allowed = awaited_departments(schema)
    if "department" in answer and allowed and answer["department"] not in allowed:
        raise UsageError(
            f"department {answer['department']!r} is not awaited at this gate; waiting for: "
            + ", ".join(str(a) for a in allowed)
        )
    try:
        # explicitly sync: Prefect picks its async variant whenever an event loop is
        # running in this thread, and a coroutine never awaited resumes nothing
        resume_flow_run(flow_run.id, run_input=answer, _sync=True)  # type: ignore[call-arg]
    except Exception as exc:
        raise UsageError(f"the gate refused the answer: {exc}") from None
    return str(flow_run.name)
