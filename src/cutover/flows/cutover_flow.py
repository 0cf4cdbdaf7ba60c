"""The cutover flow: phases in order, a gate before each, systems concurrently within.

For each phase: wait for its start on the run's clock, hold at its gate until
every approver department signs, then run every system of the phase as its own
per-system flow run, all at once except where `depends_on` orders them. The
first failure stops the phase at a decision gate: retry, skip (with a reason),
or roll back. Customer notices go out as the journal shows windows opening,
running late and closing. Everything is journaled, so the same command with the
same run key resumes where a crashed or cancelled run stopped.
"""

from __future__ import annotations

import contextvars
import threading
from datetime import timedelta
from typing import Any, cast

from prefect import flow, tags, task
from prefect.futures import PrefectFuture, wait
from prefect.task_runners import ThreadPoolTaskRunner

from cutover.engine.context import RunContext, RunParams
from cutover.errors import StepError
from cutover.flows import gates, ui
from cutover.flows.system_flow import system_cutover
from cutover.logs import bind_context, get_logger
from cutover.notices import OutboxSink, Publisher, render_all
from cutover.notices.live import LiveNotices

log = get_logger("cutover.flow")

MAX_CONCURRENT_SYSTEMS = 32


class RollbackRequested(Exception):
    """A decision gate (or a drill) asked to roll back: the run stops, the caller rolls back."""


@task(task_run_name="{system}", persist_result=False)
def run_system(
    params: dict[str, Any],
    system: str,
    phase: str,
    tag_list: list[str],
    deployment: str | None = None,
) -> Any:
    """Start the per-system flow as a child run carrying the lead-facing tags.

    In this process by default; through `deployment` (e.g. `cutover-system/stores-network`)
    to have a worker in the system's own network run it.
    """
    if deployment:
        from prefect.deployments import run_deployment

        child: Any = run_deployment(
            name=deployment,
            parameters={"params": params, "system": system, "phase": phase},
            flow_run_name=f"{system} · {phase}",
            tags=tag_list,
            as_subflow=True,
            timeout=None,
        )
        state = child.state
        if state is None or not state.is_completed():
            raise StepError(
                f"per-system run ended {state.name if state else 'without a state'}",
                system=system,
                step=phase,
            )
        return {"system": system, "flow_run": str(child.id)}
    with tags(*tag_list):
        return system_cutover.with_options(flow_run_name=f"{system} · {phase}")(
            params, system, phase
        )


class RunWatcher:
    """In the background of the cutover flow run: notices as they fall due, boards as steps move.

    Both are computed from the journal, so whatever process ran a step, the boards
    and notices follow; writes to the Prefect server are batched per tick.
    """

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.clock = ctx.clock()
        self.live = LiveNotices(ctx.plan, ctx.timeline)
        self.artifacts = ui.ArtifactSink(ctx.run_key)
        outbox = OutboxSink(ctx.workdir / "notices-outbox.jsonl")
        self.publisher = Publisher(
            ctx.plan, [outbox, self.artifacts], ctx.workdir / "notices-delivered.jsonl"
        )
        self.published = 0
        self.budgets = {b.feature: b.max_outage for b in ctx.plan.budgets}
        self.alarms: list[tuple[str, int, Any]] = []
        self._alarmed: set[tuple[str, int]] = set()
        self._seen = -1
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def tick(self) -> None:
        with self._lock:
            history = self.ctx.journal.history(self.ctx.run_key)
            due = self.live.due(history, self.clock.now(), self.clock.to_plan)
            self._send(due)
            for feature, index, projected in self.live.over_budget(self.budgets):
                if (feature, index) not in self._alarmed:
                    self._alarmed.add((feature, index))
                    self.alarms.append((feature, index, projected))
                    ui.emit(
                        "budget.at_risk",
                        run_key=self.ctx.run_key,
                        payload={"feature": feature, "projected_s": projected.total_seconds()},
                    )
            self.artifacts.flush(self.ctx.plan)
            if len(history) != self._seen:
                changed = {
                    self.ctx.plan.system(r.system).department for r in history[max(self._seen, 0) :]
                }
                ui.publish_board(
                    self.ctx.plan,
                    self.ctx.timeline,
                    history,  # the tick's own read of the journal: read once, used twice
                    self.ctx.run_key,
                    self.clock,
                    None if self._seen < 0 else changed,
                )
                self._seen = len(history)

    def rolled_back(self) -> None:
        with self._lock:
            self._send(self.live.rolled_back(self.clock.now()))
            self.artifacts.flush(self.ctx.plan)

    def _send(self, due: list[Any]) -> None:
        if not due:
            return
        sent = self.publisher.publish(render_all(self.ctx.plan, due))
        self.published += len(sent)
        for notice in sent:
            ui.emit(
                "notice.published",
                run_key=self.ctx.run_key,
                payload={
                    "feature": notice.event.feature,
                    "kind": notice.event.kind,
                    "channel": notice.channel,
                },
            )

    def start(self, interval: float) -> None:
        context = contextvars.copy_context()  # keeps Prefect's run context for artifacts

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.tick()
                except Exception as exc:  # a notice or board problem must not stop the cutover
                    log.warning("watcher_tick_failed", error=str(exc))

        self._thread = threading.Thread(target=lambda: context.run(loop), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.tick()


def gate_timeout(ctx: RunContext, phase_index: int) -> timedelta:
    """Sized from the plan: until the next phase is due (at least 12 h of plan time)."""
    phases = ctx.timeline.phases
    current = phases[phase_index]
    horizon = phases[phase_index + 1].scheduled if phase_index + 1 < len(phases) else current.end
    plan_wait = max(horizon - current.scheduled, timedelta(hours=12))
    gate = ctx.plan.phases[phase_index].gate
    if gate is not None and gate.timeout is not None:
        plan_wait = gate.timeout
    return timedelta(seconds=ctx.clock().real_seconds(plan_wait))


def run_phase(
    ctx: RunContext,
    params: dict[str, Any],
    phase_index: int,
    only: set[str] | None = None,
    system_deployment: str | None = None,
    watcher: RunWatcher | None = None,
) -> dict[str, str]:
    """Run the phase's systems concurrently where dependencies allow; system -> error."""
    phase = ctx.plan.phases[phase_index]
    members = [s for s in phase.systems if only is None or s in only]
    futures: dict[str, PrefectFuture[Any]] = {}
    for system_id in _ordered(ctx, members):
        system = ctx.plan.system(system_id)
        upstream = [futures[d] for d in system.depends_on if d in futures]
        tag_list = [
            f"dept:{system.department}",
            f"system:{system.id}",
            f"phase:{phase.id}",
            f"env:{ctx.params.env}",
            f"run:{ctx.run_key}",
        ]
        futures[system_id] = run_system.submit(
            params,
            system_id,
            phase.id,
            tag_list,
            system_deployment,
            wait_for=upstream,
            return_state=False,
        )
    pending = list(futures.values())
    while pending:
        pending = list(wait(pending, timeout=1.0).not_done)
        if watcher is not None and watcher.alarms:
            _hold_for_budget(ctx, watcher, phase.id, phase_index)
    failures: dict[str, str] = {}
    for system_id, future in futures.items():
        future.wait()
        try:
            future.result()  # the final state, however late the server records it
        except Exception as exc:
            state = future.state
            if state.is_failed() or state.is_crashed():
                failures[system_id] = str(exc)
            else:
                failures[system_id] = "not started: a system it depends on failed"
    return failures


def _hold_for_budget(ctx: RunContext, watcher: RunWatcher, phase_id: str, index: int) -> None:
    """A budget gate: the running steps go on while someone decides."""
    alarms, watcher.alarms = watcher.alarms, []
    budgets = watcher.budgets
    lines = [f"## {phase_id}: a customer outage is about to exceed its budget", ""]
    lines += ["| feature | projected outage | budget |", "| --- | --- | --- |"]
    for feature, _, projected in alarms:
        lines.append(f"| {ctx.plan.feature(feature).name} | {projected} | {budgets[feature]} |")
    lines += [
        "",
        "**continue** accepts the longer outage (customers are told the new end); "
        "**rollback** stops the cutover after the running steps and rolls back.",
    ]
    decision = gates.budget_gate(
        journal=ctx.journal,
        run_key=ctx.run_key,
        gate=f"budget-{phase_id}-{alarms[0][0]}-{alarms[0][1]}",
        description="\n".join(lines),
        timeout=gate_timeout(ctx, index),
        auto=ctx.params.auto_approve,
    )
    if decision.action == "rollback":
        raise RollbackRequested(f"budget: {', '.join(a[0] for a in alarms)} over its outage budget")


def _ordered(ctx: RunContext, members: list[str]) -> list[str]:
    """Members in an order where each comes after its same-phase dependencies."""
    done: list[str] = []
    pending = list(members)
    while pending:
        for system_id in pending:
            deps = [d for d in ctx.plan.system(system_id).depends_on if d in members]
            if all(d in done for d in deps):
                done.append(system_id)
                pending.remove(system_id)
                break
        else:  # pragma: no cover - lint refuses cycles
            raise StepError("dependency cycle", system=pending[0], step="order")
    return done


@flow(
    name="cutover",
    flow_run_name="{run_key}",
    task_runner=cast(Any, ThreadPoolTaskRunner(max_workers=MAX_CONCURRENT_SYSTEMS)),
    persist_result=False,
)
def cutover(
    plan_path: str,
    env: str,
    run_key: str,
    journal: str,
    workdir: str,
    scale: float = 1.0,
    base_url: str | None = None,
    auto_approve: bool = False,
    on_failure: str | None = None,
    watch_interval: float = 1.0,
    system_deployment: str | None = None,
    data_root: str | None = None,
    skip_idle: bool = False,
    rollback_at: str | None = None,
) -> dict[str, Any]:
    """Run a whole cutover plan; returns a summary (phases, systems, notices, failures)."""
    params_obj = RunParams(
        plan_path,
        env,
        run_key,
        journal,
        workdir,
        scale,
        base_url,
        auto_approve,
        on_failure,
        data_root,
        skip_idle,
        rollback_at,
    )
    params = params_obj.as_dict()
    ctx = RunContext.load(params_obj)  # lint runs here: a bad plan never starts
    clock = ctx.clock()
    bind_context(run=run_key)
    ui.publish_timeline(ctx.plan, ctx.timeline, run_key)
    ui.emit("run.started", run_key=run_key, payload={"plan": ctx.plan.name, "env": env})
    notices = RunWatcher(ctx)
    notices.tick()
    notices.start(watch_interval)
    outcome = "completed"
    stopped_at = ""
    skipped: list[str] = []
    try:
        for index, phase in enumerate(ctx.plan.phases):
            slot = ctx.timeline.phases[index]
            if skip_idle and clock.scale != 1.0:
                clock = ctx.journal.skip_clock(run_key, clock, slot.scheduled)
                notices.clock = clock
            clock.wait_until(slot.scheduled, tick=1.0)
            if phase.gate is not None:
                gates.hold_gate(
                    journal=ctx.journal,
                    run_key=run_key,
                    gate=f"gate-{phase.id}",
                    title=phase.title,
                    approvers=list(phase.gate.approvers),
                    note=phase.gate.note,
                    timeout=gate_timeout(ctx, index),
                    auto_approve=auto_approve,
                )
                ui.emit("gate.approved", run_key=run_key, payload={"phase": phase.id})
            ui.emit("phase.started", run_key=run_key, payload={"phase": phase.id})
            failures = run_phase(
                ctx, params, index, system_deployment=system_deployment, watcher=notices
            )
            attempt = 0
            while failures:
                attempt += 1
                description = _failure_description(phase.title, failures)
                decision = gates.decide_failure(
                    journal=ctx.journal,
                    run_key=run_key,
                    gate=f"decide-{phase.id}-{attempt}",
                    description=description,
                    timeout=gate_timeout(ctx, index),
                    auto_action=on_failure,  # type: ignore[arg-type]
                )
                if decision.action == "rollback":
                    raise RollbackRequested(description)
                if decision.action == "skip":
                    for system_id in failures:
                        skipped += _skip_failed_step(ctx, system_id, decision.reason)
                if on_failure == "retry" and attempt >= 3:
                    raise StepError(
                        "still failing after 3 automatic retries",
                        system=",".join(failures),
                        step=phase.id,
                    )
                again = set(failures) | _dependents(ctx, index, failures)
                failures = run_phase(ctx, params, index, again, system_deployment, notices)
            ui.emit("phase.finished", run_key=run_key, payload={"phase": phase.id})
    except RollbackRequested as exc:
        outcome = "rollback-requested"
        stopped_at = str(exc)
    finally:
        notices.stop()
        ui.emit("run.finished", run_key=run_key, payload={"outcome": outcome})
    return {
        "run_key": run_key,
        "outcome": outcome,
        "phases": len(ctx.plan.phases),
        "systems": len(ctx.plan.systems),
        "notices": notices.published,
        "skipped": skipped,
        "stopped_at": stopped_at,
    }


def _dependents(ctx: RunContext, index: int, failed: dict[str, str]) -> set[str]:
    phase = ctx.plan.phases[index]
    out: set[str] = set()
    changed = True
    while changed:
        changed = False
        for system_id in phase.systems:
            deps = set(ctx.plan.system(system_id).depends_on)
            if system_id not in out and deps & (set(failed) | out):
                out.add(system_id)
                changed = True
    return out


def _skip_failed_step(ctx: RunContext, system_id: str, reason: str) -> list[str]:
    """Journal the system's first unfinished step as skipped, with the reason."""
    for step in ctx.plan.system(system_id).steps:
        if not ctx.journal.is_done(ctx.run_key, system_id, step.key):
            ctx.journal.finish(ctx.run_key, system_id, step.key, "skipped", {"reason": reason})
            return [f"{system_id} · {step.key}"]
    return []


def _failure_description(title: str, failures: dict[str, str]) -> str:
    lines = [f"## {title}: a step failed", "", "| system | error |", "| --- | --- |"]
    lines += [f"| {s} | {e.replace('|', '/')[:300]} |" for s, e in failures.items()]
    lines += [
        "",
        "**retry** runs the failed systems again (done steps are not repeated); "
        "**skip** marks the failed step skipped and goes on; **rollback** takes every "
        "system back to the previous program.",
    ]
    return "\n".join(lines)
