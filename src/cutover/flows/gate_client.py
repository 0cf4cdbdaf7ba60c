"""`cutover gate list|approve|hold|decide`: sign off or decide a paused cutover from a terminal.

It does what the Prefect UI's Resume form does: it finds the paused flow run of
the cutover (by run key or flow-run id) and resumes it with the typed input the
gate waits for. The flow validates the input; a department that is not (or no
longer) awaited is refused and the run stays paused. A sign-off form offers
departments as "Digital & Mobile — Hana Sato"; `--department` takes the id
(`digital`) or that label, and the answer carries the label, as the UI's would.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from cutover.errors import UsageError

IDS = "x-cutover-ids"
"""In a sign-off form's department field: each offered label -> its department id."""


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
    return dict(json.loads(value)) if value else {}


def checklist_items(flow_run: Any) -> list[str]:
    """The checklist fields (`item_1`, ...) a paused manual step's form has; [] for a gate."""
    fields = waiting_for(flow_run).get("properties", {})
    return [name for name in fields if name.startswith("item_")]


def awaited_departments(schema: dict[str, Any]) -> list[str]:
    """The departments a sign-off form still offers (an enum, or a single const)."""
    department = schema.get("properties", {}).get("department", {})
    if "const" in department:
        return [str(department["const"])]
    values = department.get("enum") or [c.get("const") for c in department.get("anyOf", [])]
    return [str(v) for v in values if v is not None]


def offered_as(schema: dict[str, Any], department: str) -> str:
    """The form's value for `department`, given as its id or as the label the form offers."""
    ids = schema.get("properties", {}).get("department", {}).get(IDS, {})
    by_id = {str(v): str(k) for k, v in ids.items()}
    return by_id.get(department, department)


def resume(run: str, answer: dict[str, Any]) -> Any:
    """Resume the paused run with `answer`; returns the flow run as it was paused."""
    from prefect.flow_runs import resume_flow_run

    flow_run = one_paused(run)
    schema = waiting_for(flow_run)
    fields = set(schema.get("properties", {}))
    if fields and not set(answer) <= fields:
        kind = "a sign-off gate" if "department" in fields else "a decision gate"
        raise UsageError(f"run {run!r} is waiting at {kind}; it takes {', '.join(sorted(fields))}")
    allowed = awaited_departments(schema)
    if "department" in answer:
        answer = {**answer, "department": offered_as(schema, str(answer["department"]))}
    if "department" in answer and allowed and answer["department"] not in allowed:
        ids = schema["properties"]["department"].get(IDS, {})
        raise UsageError(
            f"department {answer['department']!r} is not awaited at this gate; waiting for: "
            + ", ".join(f"{a} ({ids[a]})" if a in ids else str(a) for a in allowed)
        )
    try:
        # explicitly sync: Prefect picks its async variant whenever an event loop is
        # running in this thread, and a coroutine never awaited resumes nothing
        resume_flow_run(flow_run.id, run_input=answer, _sync=True)  # type: ignore[call-arg]
    except Exception as exc:
        raise UsageError(f"the gate refused the answer: {exc}") from None
    return flow_run


def answer_of(paused: Any, settle: float = 15.0) -> str | None:
    """What became of the answer just given: the next form's "Last answer" line, or None
    when the run went on (every department signed, so it runs and does not pause again)."""
    import time

    before = paused.state.state_details.pause_key
    running_since: float | None = None
    with _client() as client:
        while True:
            current = client.read_flow_run(paused.id)
            state = current.state
            if state is None or state.is_final():
                return None
            if state.is_paused() and state.state_details.pause_key != before:
                try:
                    return _last_answer(client, current)
                except Exception as exc:  # Prefect saves the form just after it pauses
                    if getattr(getattr(exc, "response", None), "status_code", None) != 404:
                        raise
            if state.is_running():
                running_since = running_since or time.monotonic()
                if time.monotonic() - running_since > settle:
                    return None
            time.sleep(0.5)


def description_of(flow_run: Any) -> str:
    """The markdown the paused run's form shows (what failed, what each answer does)."""
    from prefect.input.run_input import keyset_from_paused_state

    with _client() as client:
        keyset = keyset_from_paused_state(flow_run.state)
        raw = client.read_flow_run_input(flow_run.id, keyset["description"])
    return str(json.loads(raw)) if raw else ""


def failed_systems(description: str) -> list[tuple[str, str]]:
    """(system, error) rows of a decision gate's failure table."""
    rows = []
    for line in description.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 2 and cells[0] not in ("system", "---"):
            rows.append((cells[0], cells[1]))
    return rows


def _last_answer(client: Any, flow_run: Any) -> str | None:
    from prefect.input.run_input import keyset_from_paused_state

    keyset = keyset_from_paused_state(flow_run.state)
    raw = client.read_flow_run_input(flow_run.id, keyset["description"])
    text = json.loads(raw) if raw else ""
    for line in str(text).splitlines():
        if line.startswith("**Last answer:** "):
            return line.removeprefix("**Last answer:** ")
    return None
