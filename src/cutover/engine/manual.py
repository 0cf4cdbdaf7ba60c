"""The manual step: people do the work, and a department confirms its checklist, signed.

| step | do | undo |
| --- | --- | --- |
| manual | wait until the confirming department ticks every checklist item and signs (its lead or a deputy, with the sign-off secret, as at a gate) | nothing: what people did by hand is not undone by a rollback (`undo: none` refuses the rollback instead) |

Each answer is journaled like a gate's (`cutover journal RUN`), under the gate
`manual-<system>-<step>`: approved by whom, refused (a wrong name or secret; five
lock the department's sign-off for ten minutes), or held, and an answer that leaves
an item unticked is a hold whose reason names the items. The step's own outcome
records who confirmed and the checklist. A drill that auto-approves confirms at once,
journaled as confirmed automatically.

How a person is asked is the flows' business (a Prefect pause with a form, or
`cutover gate approve RUN --checked`): they install it with `set_confirmer`. Without
one (the engine on its own), only a drill's automatic confirmation can pass the step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cutover.errors import StepError
from cutover.plan.models import Department, ManualStep, System

from .context import RunContext
from .signoff import Answer, GateRecord, Verdict, record_answer
from .steps import KINDS, StepKind

AUTO = "auto-approve (drill)"

Confirmer = Callable[[RunContext, System, ManualStep], str]
"""Ask the department until it confirms; returns who signed (StepError if nobody did in time)."""

_confirmer: Confirmer | None = None


def set_confirmer(confirmer: Confirmer | None) -> None:
    """Install how people are asked (the flows do, with a Prefect pause); None removes it."""
    global _confirmer
    _confirmer = confirmer


def gate_of(system: System, step: ManualStep) -> str:
    """The gate the step's answers are journaled under."""
    return f"manual-{system.id}-{step.key}"


def confirming_department(ctx: RunContext, system: System, step: ManualStep) -> Department:
    return ctx.plan.department(step.department or system.department)


def confirm(
    ctx: RunContext, system: System, step: ManualStep, answer: Answer, ticked: list[bool]
) -> tuple[Verdict, str]:
    """Check one answer (signer, secret, every item ticked), journal it, say it in one line.

    An approval with items left unticked is journaled as a hold naming them: the step
    waits, and nobody can confirm a checklist they did not tick.
    """
    missing = [str(i + 1) for i, done in enumerate(ticked) if not done]
    if len(ticked) != len(step.checklist):
        missing = [str(i + 1) for i in range(len(step.checklist))]
    if answer.decision == "approve" and missing:
        reason = f"not ticked: item {', '.join(missing)}"
        if answer.comment.strip():
            reason += f" ({answer.comment.strip()})"
        answer = Answer(answer.department, "hold", answer.name, answer.secret, reason)
    department = confirming_department(ctx, system, step)
    return record_answer(ctx.journal, ctx.run_key, gate_of(system, step), department, answer)


def checklist_table(step: ManualStep) -> list[str]:
    """The checklist as the form shows it, numbered like the answers name the items."""
    return ["| # | to confirm |", "| --- | --- |"] + [
        f"| {i} | {item.replace('|', '/')} |" for i, item in enumerate(step.checklist, 1)
    ]


class Manual(StepKind):
    name = "manual"
    undo_text = "nothing: work done by hand is not undone by a rollback"

    def do(self, ctx: RunContext, system: System, step: ManualStep, key: str) -> dict[str, Any]:
        department = confirming_department(ctx, system, step)
        gate = gate_of(system, step)
        detail: dict[str, Any] = {"department": department.id, "checklist": list(step.checklist)}
        signed = GateRecord.of(ctx.journal, ctx.run_key, gate).approved.get(department.id)
        if signed is not None:  # confirmed in an earlier attempt of the run
            return {**detail, "confirmed_by": signed}
        if ctx.request.auto_approve:
            ctx.journal.decide(
                ctx.run_key, gate, department.id, "approve", AUTO, "drill: confirmed automatically"
            )
            return {**detail, "confirmed_by": AUTO, "automatic": True}
        if _confirmer is None:
            raise StepError(
                f"waits for {department.name} to confirm its checklist, and nothing here can "
                "ask them: run it with `cutover run` (Prefect), or drill with --auto-approve",
                system=system.id,
                step=step.key,
            )
        return {**detail, "confirmed_by": _confirmer(ctx, system, step)}


KINDS[Manual.name] = Manual()
