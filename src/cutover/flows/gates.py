"""Gates as Prefect pauses: department leads sign off in the Prefect UI's Resume form.

A go/no-go gate pauses the cutover flow run with a typed input form. Each approver
department signs separately: the form asks which department signs (only those
still due are offered), approve or hold, the signer's name, their sign-off secret
(a password field) and a comment (a hold's reason). The engine checks the signer
(`cutover.engine.signoff`), the answer is journaled, the form's input (which holds
the secret) is deleted from Prefect at once, and the run pauses again, the form
now saying what became of the last answer, until every department has approved.
A gate that signs a mapping (`gate.mapping_checks`) shows its gap analysis below
(`cutover.engine.mapping_checks`), also published as an artifact per run and gate.
A decision gate (after a failure) asks: retry, skip with a reason, or roll back.

Gates wait in human time: a compressed clock never shortens the time a person has
to answer (`cutover.engine.phases.gate_timeout`). A gate nobody answers ends the
run with `GateTimeout` (exit 4), naming who is due and how to come back.

The form names departments as people do, "Digital & Mobile — Hana Sato" (the
journal keeps ids), and says when the gate times out, in the plan's time zone.
Its fields are checked here, not by Prefect: the server names only the first
missing field of a schema's `required` list ("'department' is a required
property"), so the form requires nothing (the UI marks each field "(Optional)")
and an answer with fields missing pauses the run again at once, the form saying
"Not signed: Department, Decision, Name, Secret missing" — every one at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field

from cutover.clock import utcnow
from cutover.engine.context import RunContext
from cutover.engine.mapping_checks import gate_checks
from cutover.engine.phases import Decide, Verdict, gate_timeout
from cutover.engine.signoff import Answer, GateRecord, gate_table, label, record_answer
from cutover.errors import GateTimeout
from cutover.journal import Journal
from cutover.logs import get_logger
from cutover.notices.render import when

from . import ui
from .signoff_form import _choice_not_const, missing, sign_off_model

__all__ = ["_choice_not_const", "missing", "sign_off", "sign_off_model"]  # manual.py, tests

log = get_logger("cutover.gates")

POLL_SECONDS = 2
MIN_PAUSE = 5
"""Seconds: the shortest a pause may be asked to wait (a few polls)."""
AUTO = "auto-approve (drill)"
NAME = Field(min_length=1, pattern=r"\S", description="your name")


class Decision(RunInput):
    """What to do after a step failed."""

    action: Literal["retry", "skip", "rollback"] = Field(
        description="retry the failed steps; skip them (the reason is journaled); or roll back"
    )
    reason: str = Field(
        min_length=1, pattern=r"\S", description="why: goes to the journal and the audit log"
    )
    name: str = NAME


class BudgetDecision(RunInput):
    """A feature's outage is about to exceed its budget: go on, or roll back."""

    action: Literal["continue", "rollback"] = Field(
        description="continue: accept the longer outage (customers get an extended notice); "
        "rollback: stop after the running steps and roll back"
    )
    reason: str = Field(min_length=1, pattern=r"\S", description="why: goes to the journal")
    name: str = NAME


def _ask(ctx: RunContext, model: Any, description: str, timeout: timedelta, gate: str) -> Any:
    """Pause the flow run for a typed answer; GateTimeout if nobody answers in time."""
    deadline = _deadline_line(ctx, utcnow() + timeout)
    try:
        return pause_flow_run(
            wait_for_input=model.with_initial_data(description=f"{deadline}\n\n{description}"),
            timeout=max(MIN_PAUSE, int(timeout.total_seconds())),
            poll_interval=POLL_SECONDS,
            key=gate,
        )
    except FlowPauseTimeout:
        raise _timed_out(ctx, gate, timeout, "the release manager's decision") from None


def _deadline_line(ctx: RunContext, deadline: datetime) -> str:
    """When the pause times out, in the plan's time zone, as the forms say it."""
    return (
        f"**Deadline:** {when(deadline, ctx.plan)} — unanswered by then, the gate times out "
        "and the run stops (it resumes with the same run key)."
    )


def _timed_out(ctx: RunContext, gate: str, waited: timedelta, due: str) -> GateTimeout:
    request = ctx.request
    return GateTimeout(
        f"gate {gate} was not answered in {_human(waited)}; still due: {due}. Come back to "
        f"it with: cutover run {request.plan_path} --env {request.env} --run-key "
        f"{request.run_key}",
        gate=gate,
    )


def _human(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _forget_input(gate_key: str) -> None:
    """Delete the answer Prefect stored for the paused run: it holds the sign-off secret."""
    from prefect.client.orchestration import get_client

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    try:
        with get_client(sync_client=True) as client:
            client.delete_flow_run_input(context.flow_run.id, f"paused-{gate_key}-response")
    except Exception as exc:  # never fail a gate over it; say so, without the value
        log.warning("gate_input_not_deleted", gate=gate_key, error=type(exc).__name__)


def budget_gate(
    ctx: RunContext, *, gate: str, description: str, timeout: timedelta, auto: bool
) -> BudgetDecision:
    """Hold the run (its running steps go on) until someone accepts the overrun or rolls back."""
    decision: BudgetDecision = (
        BudgetDecision(action="continue", reason="drill: overrun accepted automatically", name=AUTO)
        if auto
        else _ask(ctx, BudgetDecision, description, timeout, gate)
    )
    _record(ctx.journal, ctx.run_key, gate, decision.action, decision.name, decision.reason)
    return decision


def _record(journal: Journal, run_key: str, gate: str, action: str, who: str, why: str) -> None:
    journal.decide(run_key, gate, "release-management", action, who, why)


def _emit_gate(ctx: RunContext, name: str, phase: str, gate: str, departments: list[str]) -> None:
    ui.emit(
        name,
        run_key=ctx.run_key,
        payload={"phase": phase, "gate": gate, "departments": departments},
        related={"department": departments, "phase": phase, "gate": gate},
    )


def _description(
    ctx: RunContext,
    index: int,
    record: GateRecord,
    last: str,
    reports: str = "",
    deadline: datetime | None = None,
) -> str:
    phase = ctx.plan.phases[index]
    assert phase.gate is not None
    approvers = [ctx.plan.department(d) for d in phase.gate.approvers]
    lines = [f"## Go / no-go: {phase.title}", ""]
    if deadline is not None:
        lines += [_deadline_line(ctx, deadline).replace("unanswered", "unsigned"), ""]
    if phase.gate.note:
        lines += [phase.gate.note, ""]
    lines += gate_table(approvers, record, utcnow())
    if last:
        lines += ["", f"**Last answer:** {last}"]
    lines += [
        "",
        "Each department signs separately, by its lead or a deputy the plan names, with "
        "their sign-off secret. **Hold** (its reason in the comment) keeps the phase waiting. "
        "Department, Decision, Name and Secret are all needed (the form calls them Optional: "
        "the run checks them, and names every one missing).",
    ]
    if reports:
        lines += ["", "---", "", reports]
    return "\n".join(lines)


VERDICT_EVENTS = {
    "approve": "gate.signed",
    "hold": "gate.held",
    "refused": "gate.refused",
    "locked": "gate.refused",
}


def _mapping_reports(ctx: RunContext, index: int, gate: str) -> str:
    """The gate's gap analyses (`gate.mapping_checks`), each published as an artifact keyed
    by run and gate; their markdown, for the form."""
    checks = gate_checks(ctx, index)
    for number, check in enumerate(checks, 1):
        ui.publish_markdown(
            f"gap-report-{ctx.run_key}-{gate}-{number}", check.markdown, check.summary
        )
    return "\n".join(check.markdown for check in checks)


def _auto_approve(ctx: RunContext, phase: str, gate: str, approvers: list[str]) -> None:
    """Drills: every department still due approves at once (journaled, events as in a run)."""
    record = GateRecord.of(ctx.journal, ctx.run_key, gate)
    pending = [d for d in approvers if d not in record.approved]
    _emit_gate(ctx, "gate.waiting", phase, gate, pending)
    for department in pending:
        ctx.journal.decide(
            ctx.run_key, gate, department, "approve", AUTO, "drill: approved automatically"
        )
        _emit_gate(ctx, "gate.signed", phase, gate, [department])


def _one_answer(
    ctx: RunContext, key: str, form: type[RunInput], wait: timedelta
) -> Answer | list[str]:
    """Pause for one answer to the sign-off form; its stored copy (with the secret) deleted.
    The titles of the fields left empty instead, if any."""
    answer: Any = pause_flow_run(
        wait_for_input=form,
        timeout=max(MIN_PAUSE, int(wait.total_seconds())),
        poll_interval=POLL_SECONDS,
        key=key,
    )
    _forget_input(key)
    lacking = missing(answer)
    if lacking:
        return lacking
    ids = {label(d): d.id for d in ctx.plan.departments}
    return Answer(
        department=ids.get(answer.department, answer.department),
        decision=answer.decision,
        name=answer.name,
        secret=answer.secret.get_secret_value(),
        comment=answer.comment,
    )


def sign_off(ctx: RunContext, index: int) -> dict[str, str]:
    """Hold the run at the phase's go/no-go gate until every approver department signs.

    Returns department -> who signed. Drills that auto-approve sign for everyone.
    """
    phase = ctx.plan.phases[index]
    assert phase.gate is not None
    gate = f"gate-{phase.id}"
    approvers = [ctx.plan.department(d) for d in phase.gate.approvers]
    reports = _mapping_reports(ctx, index, gate)  # once per gate: the form shows it each time
    if ctx.request.auto_approve:
        _auto_approve(ctx, phase.id, gate, [d.id for d in approvers])
        return {d.id: AUTO for d in approvers}
    waited, timeout = timedelta(0), gate_timeout(ctx, index)
    last, attempt = "", 0
    while True:
        record = GateRecord.of(ctx.journal, ctx.run_key, gate)
        due = [d for d in approvers if d.id not in record.approved]
        if not due:
            return record.approved
        who = ", ".join(f"{d.name} ({d.lead})" for d in due)
        if waited >= timeout:
            raise _timed_out(ctx, gate, timeout, who)
        now = utcnow()
        open_ = [d.id for d in due if record.locked_until(d.id, now) is None]
        _emit_gate(ctx, "gate.waiting", phase.id, gate, [d.id for d in due])
        attempt += 1
        offered = [d for d in due if d.id in open_] or due
        deadline = now + (timeout - waited)
        form = sign_off_model(offered).with_initial_data(
            description=_description(ctx, index, record, last, reports, deadline)
        )
        began = utcnow()
        try:
            answer = _one_answer(ctx, f"{gate}-{attempt}", form, timeout - waited)
        except FlowPauseTimeout:
            raise _timed_out(ctx, gate, timeout, who) from None
        waited += utcnow() - began
        if isinstance(answer, list):
            last = f"not signed: {', '.join(answer)} missing. Fill in every field and resume."
            log.info("gate_answer_incomplete", gate=gate, missing=answer)
            continue
        department = ctx.plan.department(answer.department)
        verdict, last = record_answer(ctx.journal, ctx.run_key, gate, department, answer)
        log.info("gate_answer", gate=gate, department=department.id, verdict=verdict)
        _emit_gate(ctx, VERDICT_EVENTS[verdict], phase.id, gate, [department.id])


def failure_decider(ctx: RunContext, index: int) -> Decide:
    """The phase's decision gate as the engine's `decide`: a pause (or the drill's answer)."""
    phase = ctx.plan.phases[index]

    def decide(gate: str, description: str, failures: dict[str, str]) -> Verdict:
        departments = sorted({ctx.plan.system(s).department for s in failures})
        ui.emit(
            "phase.stopped",
            run_key=ctx.run_key,
            payload={"phase": phase.id, "gate": gate, "systems": sorted(failures)},
            related={"department": departments, "phase": phase.id, "gate": gate},
        )
        auto = ctx.request.on_failure
        decision: Decision = (
            Decision(action=auto, reason="drill: decided automatically", name=AUTO)
            if auto is not None
            else _ask(ctx, Decision, description, gate_timeout(ctx, index), gate)
        )
        _record(ctx.journal, ctx.run_key, gate, decision.action, decision.name, decision.reason)
        return Verdict(decision.action, decision.reason)

    return decide
