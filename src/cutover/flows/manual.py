"""A manual step's wait: the system's flow run pauses with a checklist form in the Prefect UI.

The confirming department's lead (or a deputy) opens the paused run `<system> ·
<phase>`, **Resume**, ticks each item, types their name and sign-off secret, and
submits; or, from a terminal, `cutover gate approve RUN -d DEPT -n NAME --checked`.
The engine checks and journals each answer (`cutover.engine.manual.confirm`); the
stored answer (it holds the secret) is deleted at once; the run pauses again, the form
saying what became of the last answer, until the department has confirmed. Nobody
confirming within the phase's gate time fails the step, which stops the phase at its
decision gate (retry asks again).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field, SecretStr, create_model

from cutover.clock import utcnow
from cutover.engine import manual
from cutover.engine.context import RunContext
from cutover.engine.phases import gate_timeout
from cutover.engine.signoff import Answer, GateRecord, gate_table
from cutover.errors import StepError
from cutover.logs import get_logger
from cutover.plan.models import ManualStep, System

from . import ui
from .gates import MIN_PAUSE, NAME, POLL_SECONDS, _choice_not_const, _forget_input

log = get_logger("cutover.manual")


def checklist_form(department: str, step: ManualStep) -> type[RunInput]:
    """The form: the department, one toggle per checklist item, name, secret, comment."""
    fields: dict[str, Any] = {
        "department": (
            Literal.__getitem__((department,)),
            Field(description="the department that confirms", json_schema_extra=_choice_not_const),
        ),
        "decision": (
            Literal["approve", "hold"],
            Field(description="approve: every item is done; hold: not yet (say why)"),
        ),
    }
    for i, item in enumerate(step.checklist, 1):
        # off by default: the Prefect UI sends no value for a toggle left untouched, and a
        # required field would refuse the answer ("'item_2' is a required property"), so a
        # lead could not even hold; an item left off makes an approval a hold naming it
        fields[f"item_{i}"] = (
            bool,
            Field(
                default=False,
                title=f"{i}. {item}",
                description="on: done and checked (an item left off holds the step)",
            ),
        )
    fields["name"] = (str, NAME)
    fields["secret"] = (
        SecretStr,
        Field(description="your sign-off secret (never stored, never shown)"),
    )
    fields["comment"] = (str, Field(default="", description="for a hold, its reason"))
    model: type[RunInput] = create_model("ManualConfirmation", __base__=RunInput, **fields)
    return model


def _description(ctx: RunContext, system: System, step: ManualStep, last: str) -> str:
    department = manual.confirming_department(ctx, system, step)
    record = GateRecord.of(ctx.journal, ctx.run_key, manual.gate_of(system, step))
    lines = [f"## Manual step: {system.title} · {step.key}", ""]
    lines += [f"{department.name} confirms, item by item:", "", *manual.checklist_table(step), ""]
    lines += gate_table([department], record, utcnow())
    if last:
        lines += ["", f"**Last answer:** {last}"]
    lines += ["", "Tick every item, then sign with your name and sign-off secret."]
    return "\n".join(lines)


def _phase_index(ctx: RunContext, system: System, step: ManualStep) -> int:
    phases = ctx.plan.step_phases(system)
    phase = phases[[s.key for s in system.steps].index(step.key)]
    return [p.id for p in ctx.plan.phases].index(phase or ctx.plan.phases[0].id)


def wait_for_confirmation(ctx: RunContext, system: System, step: ManualStep) -> str:
    """Pause the system's flow run until the department confirms; returns who signed."""
    department = manual.confirming_department(ctx, system, step)
    gate = manual.gate_of(system, step)
    timeout = gate_timeout(ctx, _phase_index(ctx, system, step))
    waited, last, attempt = timedelta(0), "", 0
    while True:
        signed = GateRecord.of(ctx.journal, ctx.run_key, gate).approved.get(department.id)
        if signed is not None:
            return signed
        if waited >= timeout:
            raise StepError(
                f"{department.name} did not confirm the checklist in time",
                system=system.id,
                step=step.key,
            )
        ui.emit(
            "manual.waiting",
            run_key=ctx.run_key,
            payload={"system": system.id, "step": step.key, "department": department.id},
            related={"department": [department.id], "gate": gate},
        )
        attempt += 1
        form = checklist_form(department.id, step).with_initial_data(
            description=_description(ctx, system, step, last)
        )
        began, key = utcnow(), f"{gate}-{attempt}"
        try:
            answer: Any = pause_flow_run(
                wait_for_input=form,
                timeout=max(MIN_PAUSE, int((timeout - waited).total_seconds())),
                poll_interval=POLL_SECONDS,
                key=key,
            )
        except FlowPauseTimeout:
            waited = timeout
            continue
        _forget_input(key)
        waited += utcnow() - began
        ticked = [bool(getattr(answer, f"item_{i}")) for i in range(1, len(step.checklist) + 1)]
        given = Answer(
            department.id,
            answer.decision,
            answer.name,
            answer.secret.get_secret_value(),
            answer.comment,
        )
        verdict, last = manual.confirm(ctx, system, step, given, ticked)
        log.info("manual_answer", gate=gate, department=department.id, verdict=verdict)


def install() -> None:
    """Ask people through Prefect wherever flows run (idempotent)."""
    manual.set_confirmer(wait_for_confirmation)
