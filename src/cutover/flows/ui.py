"""What department leads see in Prefect: status boards, timeline, notices, events.

Artifacts are keyed (lowercase, digits, dashes), so each update is a new
version of the same board; events name the system and step as resources so
automations and downstream subscribers can react.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from cutover.clock import RunClock
from cutover.dataflow.report import markdown as trace_markdown
from cutover.engine import board, dataflows
from cutover.engine.context import RunContext
from cutover.flows import notice_sinks
from cutover.journal import Decision, StepRecord
from cutover.logs import get_logger
from cutover.notices.publish import Sink
from cutover.notices.render import Rendered, when
from cutover.plan.models import Plan, VerifyStep
from cutover.plan.report import timeline_markdown
from cutover.plan.timeline import Timeline

log = get_logger("cutover.ui")
_board_lock = threading.Lock()


def artifact_key(*parts: str) -> str:
    raw = "-".join(parts).lower()
    return "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in raw)[:100].strip("-")


def publish_timeline(plan: Plan, timeline: Timeline, run_key: str) -> None:
    create_markdown_artifact(
        key=artifact_key("timeline", run_key),
        markdown=timeline_markdown(plan, timeline),
        description=f"Planned timeline of {plan.name}",
    )


def publish_board(
    plan: Plan,
    timeline: Timeline,
    history: list[StepRecord],
    run_key: str,
    clock: RunClock,
    departments: set[str] | None = None,
    decisions: list[Decision] | None = None,
) -> None:
    """The whole-cutover board, and the board of each department (or of `departments`).

    Gates held by a department come first, each as a row "held by NAME: REASON".
    """
    with _board_lock:
        everything = board.hold_rows(plan, timeline, decisions or [])
        everything += board.rows(plan, timeline, history, to_plan_time=clock.to_plan)
        create_table_artifact(
            key=artifact_key("board", run_key),
            table=[r.as_dict(plan) for r in everything],
            description=f"Status board — {plan.name} ({run_key}): "
            + ", ".join(f"{n} {s}" for s, n in sorted(board.counts(everything).items())),
        )
        for department in plan.departments:
            if departments is not None and department.id not in departments:
                continue
            mine = [r for r in everything if r.department == department.id]
            if not mine:
                continue
            create_table_artifact(
                key=artifact_key("board", department.id, run_key),
                table=[r.as_dict(plan) for r in mine],
                description=f"{department.name} — lead {department.lead}: "
                + ", ".join(f"{n} {s}" for s, n in sorted(board.counts(mine).items())),
            )


def tag_this_run(run_key: str, env: str, *extra: str) -> None:
    """Give the current flow run the tags a run is found by (`run:`, `env:`), however it was
    started: a run from the UI's Run button or `prefect deployment run` has none of its own."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    wanted = [f"run:{run_key}", f"env:{env}", *extra]
    have = list(context.flow_run.tags or [])
    if set(wanted) <= set(have):
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, tags=list(dict.fromkeys(have + wanted)))


def publish_markdown(key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(key=artifact_key(key), markdown=markdown, description=description)


def publish_traces(ctx: RunContext, system: str, step: VerifyStep) -> None:
    """A verify step's data flow traces, one markdown artifact each (passed or failed)."""
    for flow_id in step.dataflows:
        try:
            found = dataflows.traced(ctx, flow_id)
            publish_markdown(
                f"trace-{flow_id}-{ctx.run_key}",
                trace_markdown(found),
                f"{system} · {step.key}: {found.verdict()}",
            )
        except Exception as exc:  # an artifact is for people: never fail a step over one
            log.warning("trace_not_published", flow=flow_id, error=str(exc))


class ArtifactSink:
    """Notices sink: a Prefect markdown artifact per notice, and a table of all sent so far.

    `send` only collects; `flush` writes (once per tick of the run's watcher), so a
    burst of notices costs a few writes to the Prefect server, not dozens.
    """

    name = "prefect-artifact"

    def __init__(self, run_key: str) -> None:
        self.run_key = run_key
        self.sent: list[Rendered] = []
        self._pending: list[Rendered] = []
        self._lock = threading.Lock()

    def send(self, plan: Plan, notice: Rendered) -> None:
        with self._lock:
            self.sent.append(notice)
            self._pending.append(notice)

    def flush(self, plan: Plan) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            sent = list(self.sent)
        if not pending:
            return
        by_event: dict[str, list[Rendered]] = {}
        for notice in pending:
            by_event.setdefault(notice.event.key, []).append(notice)
        for notices in by_event.values():
            event = notices[0].event
            lines = [
                f"**{notices[0].feature_name}** — {event.kind}, sent {when(event.at, plan)}",
                "",
            ]
            lines += [f"- *{n.channel}*: {n.text}" for n in notices]
            create_markdown_artifact(
                key=artifact_key("notice", event.feature, event.kind),
                markdown="\n".join(lines) + "\n",
                description=f"Customer notice: {notices[0].feature_name} {event.kind}",
            )
        create_table_artifact(
            key=artifact_key("notices", self.run_key),
            table=[
                {
                    "sent": when(n.event.at, plan),
                    "feature": n.feature_name,
                    "kind": n.event.kind,
                    "channel": n.channel,
                    "text": n.text,
                }
                for n in sent
            ],
            description=f"Customer notices sent so far ({len(sent)})",
        )


def emit(
    name: str,
    *,
    run_key: str,
    system: str | None = None,
    step: str | None = None,
    payload: dict[str, Any] | None = None,
    related: dict[str, str | list[str]] | None = None,
) -> None:
    """A Prefect event `cutover.<name>` about a system (or the cutover as a whole).

    `related` adds resources an automation can match on, by role: e.g.
    `{"department": ["digital"], "phase": "fronts", "gate": "gate-fronts"}` becomes
    `cutover.department.digital` (role `department`), `cutover.phase.fronts`, ...
    """
    resource_id = f"cutover.system.{system}" if system else f"cutover.run.{run_key}"
    roles: dict[str, str | list[str]] = {"run": run_key} if system or related else {}
    links = [
        {"prefect.resource.id": f"cutover.{role}.{one}", "prefect.resource.role": role}
        for role, ids in {**roles, **(related or {})}.items()
        for one in ([ids] if isinstance(ids, str) else ids)
    ]
    try:
        emit_event(
            event=f"cutover.{name}",
            resource={
                "prefect.resource.id": resource_id,
                "prefect.resource.name": system or run_key,
                **({"cutover.step": step} if step else {}),
            },
            related=links or None,
            payload=payload or {},
        )
    except Exception as exc:  # events are telemetry: never fail a cutover step over one
        log.warning("event_not_emitted", event=name, error=str(exc))


class PrefectView:
    """The engine's `RunView` in the Prefect UI: events, notice artifacts and the boards."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.artifacts = ArtifactSink(ctx.run_key)
        self.sinks: Sequence[Sink] = (self.artifacts, *notice_sinks.for_run(ctx))

    def emit(
        self,
        name: str,
        *,
        system: str | None = None,
        step: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        emit(name, run_key=self.ctx.run_key, system=system, step=step, payload=payload)

    def board(
        self,
        history: list[StepRecord],
        decisions: list[Decision],
        clock: RunClock,
        changed: set[str] | None,
    ) -> None:
        publish_board(
            self.ctx.plan, self.ctx.timeline, history, self.ctx.run_key, clock, changed, decisions
        )

    def flush(self) -> None:
        self.artifacts.flush(self.ctx.plan)
