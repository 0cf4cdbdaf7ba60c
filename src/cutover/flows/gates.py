"""Gates as Prefect pauses: department leads sign off in the Prefect UI's Resume form.

A go/no-go gate pauses the cutover flow run with a typed input form. Each
approver department signs separately: the form asks which department signs
(only those still missing are offered), approve or hold, the signer's name and an
optional comment. The flow records each answer in the journal and pauses again
until every department has approved. A decision gate (after a failure) asks:
retry, skip with a reason, or roll back.

Fields a lead must fill have no default, so the UI shows them as required.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field, create_model

from cutover.engine.context import RunContext
from cutover.engine.phases import Decide, Verdict, gate_timeout
from cutover.journal import Journal
from cutover.logs import get_logger

log = get_logger("cutover.gates")

POLL_SECONDS = 2
AUTO = "auto-approve (drill)"


class Decision(RunInput):
    """What to do after a step failed."""

    action: Literal["retry", "skip", "rollback"] = Field(
        description="retry the failed steps; skip them (the reason is journaled); or roll back"
    )
    reason: str = Field(min_length=1, description="why: goes to the journal and the audit log")
    name: str = Field(min_length=1, description="your name")


class BudgetDecision(RunInput):
    """A feature's outage is about to exceed its budget: go on, or roll back."""

    action: Literal["continue", "rollback"] = Field(
        description="continue: accept the longer outage (customers get an extended notice); "
        "rollback: stop after the running steps and roll back"
    )
    reason: str = Field(min_length=1, description="why: goes to the journal")
    name: str = Field(min_length=1, description="your name")


def budget_gate(
    *,
    journal: Journal,
    run_key: str,
    gate: str,
    description: str,
    timeout: timedelta,
    auto: bool,
) -> BudgetDecision:
    """Hold the run (its running steps go on) until someone accepts the overrun or rolls back."""
    decision: BudgetDecision = (
        BudgetDecision(action="continue", reason="drill: overrun accepted automatically", name=AUTO)
        if auto
        else _ask(BudgetDecision, description, timeout, gate)
    )
    _record(journal, run_key, gate, decision.action, decision.name, decision.reason)
    return decision


def _ask(model: Any, description: str, timeout: timedelta, gate: str) -> Any:
    """Pause the flow run for the release manager's typed answer."""
    return pause_flow_run(
        wait_for_input=model.with_initial_data(description=description),
        timeout=max(60, int(timeout.total_seconds())),
        poll_interval=POLL_SECONDS,
        key=gate,
    )


def _record(journal: Journal, run_key: str, gate: str, action: str, who: str, why: str) -> None:
    journal.decide(run_key, gate, "release-management", action, who, why)


def _choice_not_const(schema: dict[str, Any]) -> None:
    """One department left: pydantic writes `const`, which the Prefect UI shows as an empty,
    read-only box; offer it as a one-item choice instead (still without a default)."""
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]


def sign_off_model(remaining: list[str]) -> type[RunInput]:
    """A sign-off form offering only the departments that have not approved yet."""
    department_type: Any = Literal.__getitem__(tuple(remaining))
    decision_type: Any = Literal["approve", "hold"]
    fields: dict[str, Any] = {
        "department": (
            department_type,
            Field(description="the department you sign for", json_schema_extra=_choice_not_const),
        ),
        "decision": (
            decision_type,
            Field(description="approve: go; hold: the phase waits until you approve"),
        ),
        "name": (str, Field(min_length=1, description="your name")),
        "comment": (str, Field(default="", description="anything the release manager should know")),
    }
    model: type[RunInput] = create_model("SignOff", __base__=RunInput, **fields)
    return model


def gate_description(
    title: str, approvers: list[str], approved: dict[str, str], note: str | None
) -> str:
    lines = [f"## Go / no-go: {title}", ""]
    if note:
        lines += [note, ""]
    lines.append("| department | sign-off |")
    lines.append("| --- | --- |")
    for dept in approvers:
        lines.append(f"| {dept} | {'✅ ' + approved[dept] if dept in approved else '⏳ waiting'} |")
    lines += ["", "Each department signs separately. **Hold** keeps the phase waiting."]
    return "\n".join(lines)


def hold_gate(
    *,
    journal: Journal,
    run_key: str,
    gate: str,
    title: str,
    approvers: list[str],
    note: str | None,
    timeout: timedelta,
    auto_approve: bool,
) -> dict[str, str]:
    """Block until every approver department has approved; returns department -> signer."""
    approved: dict[str, str] = {}
    for record in journal.decisions(run_key):
        if record.gate == gate and record.decision == "approve":
            approved[record.department] = record.who  # a resumed run keeps earlier sign-offs
    if auto_approve:
        for dept in approvers:
            if dept not in approved:
                journal.decide(
                    run_key, gate, dept, "approve", AUTO, "drill: approved automatically"
                )
                approved[dept] = AUTO
    attempt = 0
    while any(dept not in approved for dept in approvers):
        remaining = [d for d in approvers if d not in approved]
        form = sign_off_model(remaining).with_initial_data(
            description=gate_description(title, approvers, approved, note)
        )
        attempt += 1
        log.info("gate_waiting", gate=gate, remaining=remaining)
        answer: Any = pause_flow_run(
            wait_for_input=form,
            timeout=max(60, int(timeout.total_seconds())),
            poll_interval=POLL_SECONDS,
            key=f"{gate}-{attempt}",
        )
        journal.decide(
            run_key, gate, answer.department, answer.decision, answer.name, answer.comment
        )
        log.info("gate_decision", gate=gate, department=answer.department, decision=answer.decision)
        if answer.decision == "approve":
            approved[answer.department] = answer.name
    return approved


def decide_failure(
    *,
    journal: Journal,
    run_key: str,
    gate: str,
    description: str,
    timeout: timedelta,
    auto_action: Literal["retry", "skip", "rollback"] | None,
) -> Decision:
    """Hold at a decision gate after a failure; `auto_action` answers it in drills."""
    decision: Decision = (
        Decision(action=auto_action, reason="drill: decided automatically", name=AUTO)
        if auto_action is not None
        else _ask(Decision, description, timeout, gate)
    )
    _record(journal, run_key, gate, decision.action, decision.name, decision.reason)
    return decision


def sign_off(ctx: RunContext, index: int) -> dict[str, str]:
    """Hold the run at the phase's go/no-go gate until every approver department signs."""
    phase = ctx.plan.phases[index]
    assert phase.gate is not None
    return hold_gate(
        journal=ctx.journal,
        run_key=ctx.run_key,
        gate=f"gate-{phase.id}",
        title=phase.title,
        approvers=list(phase.gate.approvers),
        note=phase.gate.note,
        timeout=gate_timeout(ctx, index),
        auto_approve=ctx.request.auto_approve,
    )


def failure_decider(ctx: RunContext, index: int) -> Decide:
    """The phase's decision gate as the engine's `decide`: a pause (or the drill's answer)."""

    def decide(gate: str, description: str) -> Verdict:
        decision = decide_failure(
            journal=ctx.journal,
            run_key=ctx.run_key,
            gate=gate,
            description=description,
            timeout=gate_timeout(ctx, index),
            auto_action=ctx.request.on_failure,
        )
        return Verdict(decision.action, decision.reason)

    return decide
