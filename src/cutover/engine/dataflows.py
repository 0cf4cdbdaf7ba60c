"""A verify step's `dataflow: ID` checks: each flow's trace must pass before the step does.

The trace is pure computation on the plan (`cutover.dataflow`), deterministic for the
flow's `events` and `seed`: run once per run and process, it is cached, so the flow
that shows its report (`cutover.flows.system_flow`) reads the same trace the check
judged, whether the check passed or failed.
"""

from __future__ import annotations

import threading
from typing import Any

from cutover.dataflow import Trace, trace
from cutover.dataflow.report import summary
from cutover.errors import StepError
from cutover.plan.models import VerifyStep

from .context import RunContext

_lock = threading.Lock()
_traces: dict[tuple[object, str], Trace] = {}


def traced(ctx: RunContext, flow_id: str) -> Trace:
    """The trace of the plan's flow `flow_id` for this run (computed once)."""
    key = (ctx.request, flow_id)
    with _lock:
        found = _traces.get(key)
    if found is None:
        found = trace(ctx.plan.data_flow(flow_id), env=ctx.request.env)
        with _lock:
            _traces[key] = found
    return found


def verify(ctx: RunContext, system_id: str, step: VerifyStep) -> list[dict[str, Any]]:
    """Every flow the step names, traced; StepError naming the first that drifts too far."""
    traces = [traced(ctx, flow_id) for flow_id in step.dataflows]
    failed = [t for t in traces if not t.ok]
    if failed:
        raise StepError(failed[0].verdict(), system=system_id, step=step.key)
    return [summary(t) for t in traces]
