"""What department leads see in Prefect: status boards, timeline, notices, events.

Artifacts are keyed (lowercase, digits, dashes; the run key last), so each update is
a new version of the same board; events name the system and step as resources so
automations and downstream subscribers can react. The boards are markdown pages
(`cutover.engine.board_page`), not tables: a table of every step hid its last
columns behind a sideways scroll at 1366 px and paged its rows ten at a time.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from cutover.clock import RunClock
from cutover.dataflow.report import markdown as trace_markdown
from cutover.engine import dataflows
from cutover.engine.board_page import Board
from cutover.engine.context import RunContext
from cutover.flows import notice_sinks
from cutover.journal import Decision, StepRecord
from cutover.logs import get_logger
from cutover.notices.publish import Sink, read_json_lines
from cutover.notices.render import Rendered, when
from cutover.plan.models import Plan, VerifyStep
from cutover.plan.report import timeline_markdown
from cutover.plan.timeline import Timeline

log = get_logger("cutover.ui")
_board_lock = threading.Lock()


MAX_KEY = 100
"""Prefect's longest artifact key."""


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in text.lower())


def artifact_key(*parts: str) -> str:
    """`board-digital-<run key>`: the parts joined, lowercase, digits and dashes.

    The last part (the run key) is never cut: when the key would be longer than
    Prefect allows, the parts before it are shortened and end with a hash of what
    they said, so two long notice keys of one run stay apart.
    """
    slugs = [_slug(part) for part in parts]
    raw = "-".join(slugs).strip("-")
    if len(raw) <= MAX_KEY or len(slugs) < 2:
        return raw[:MAX_KEY].strip("-")
    tail = slugs[-1][: MAX_KEY - 12]  # a run key has at most 81 characters: kept whole
    head = "-".join(slugs[:-1])
    digest = hashlib.sha256(head.encode()).hexdigest()[:8]
    room = MAX_KEY - len(tail) - len(digest) - 2
    return f"{head[:room].strip('-')}-{digest}-{tail}".strip("-")


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
    """The run's board (`board-<run key>`) and each department's (`board-<dept>-<run key>`,
    or only those of `departments`), as markdown pages drawn from the journal."""
    with _board_lock:
        drawn = Board.of(
            plan, timeline, history, decisions or [], clock.now(), to_plan_time=clock.to_plan
        )
        create_markdown_artifact(
            key=artifact_key("board", run_key),
            markdown=drawn.page(run_key),
            description=f"Status board — {plan.name} ({run_key}): {drawn.summary()}",
        )
        for department in drawn.departments():
            if departments is not None and department.id not in departments:
                continue
            create_markdown_artifact(
                key=artifact_key("board", department.id, run_key),
                markdown=drawn.page(run_key, department.id),
                description=f"{department.name} — {department.lead}: "
                f"{drawn.summary(department.id)}",
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


def name_this_attempt(run_key: str) -> str | None:
    """A resumed run's flow run is named `<run key> (attempt N)`: the UI lists every attempt
    of a run key, and two runs of one name could not be told apart. Returns the new name,
    or None for a first attempt (or outside a flow run)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterTags,
    )
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None
    this = context.flow_run
    try:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_filter=FlowFilter(
                    name=FlowFilterName(any_=[str(getattr(context.flow, "name", "cutover"))])
                ),
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"run:{run_key}"])),
            )
            mine = this.created
            earlier = [
                r for r in runs if r.id != this.id and r.created and mine and r.created < mine
            ]
            if not earlier:
                return None
            name = f"{run_key} (attempt {len(earlier) + 1})"
            client.update_flow_run(this.id, name=name)
            return name
    except Exception as exc:  # a name is for people: never fail a run over it
        log.warning("run_not_renamed", error=type(exc).__name__)
        return None


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
    burst of notices costs a few writes to the Prefect server, not dozens. Keys carry
    the run key (`notice-<feature>-<kind>-<run key>`, `notices-<run key>`). The table
    is rebuilt from the run's outbox file (every attempt of the run key writes to the
    same one), so a resumed run's table has the first attempt's notices too.
    """

    name = "prefect-artifact"

    def __init__(self, run_key: str, outbox: Path | None = None) -> None:
        self.run_key = run_key
        self.outbox = outbox
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
                key=artifact_key("notice", event.feature, event.kind, self.run_key),
                markdown="\n".join(lines) + "\n",
                description=f"Customer notice: {notices[0].feature_name} {event.kind}",
            )
        table = self.table(plan, sent)
        create_table_artifact(
            key=artifact_key("notices", self.run_key),
            table=table,
            description=f"Customer notices sent so far ({len(table)})",
        )

    def table(self, plan: Plan, sent: list[Rendered]) -> list[dict[str, str]]:
        """Every notice of the run key, oldest first: the outbox's (all attempts), then any
        this process sent that the outbox does not have."""
        rows = {row["key"]: row for row in read_json_lines(self.outbox)} if self.outbox else {}
        for notice in sent:
            rows.setdefault(notice.as_dict()["key"], notice.as_dict())
        ordered = sorted(rows.values(), key=lambda row: str(row.get("at", "")))
        return [
            {
                "sent": when(datetime.fromisoformat(row["at"]), plan),
                "feature": str(row.get("feature_name") or row.get("feature", "")),
                "kind": str(row.get("kind", "")),
                "channel": str(row.get("channel", "")),
                "text": str(row.get("text", "")),
            }
            for row in ordered
            if "at" in row
        ]


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
        self.artifacts = ArtifactSink(ctx.run_key, ctx.workdir / "notices-outbox.jsonl")
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
