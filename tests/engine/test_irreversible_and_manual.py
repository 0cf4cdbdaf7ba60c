"""What real plans say, in the engine (no Prefect): a step that cannot be undone refuses
every rollback once done, naming it; a manual checklist step is confirmed and journaled."""

from __future__ import annotations

from pathlib import Path

import pytest

from cutover.engine import manual
from cutover.engine.context import RunContext
from cutover.engine.rollback import check_rollback_allowed, undo_steps
from cutover.engine.signoff import Answer
from cutover.engine.steps import execute
from cutover.errors import RollbackError, StepError
from engine.conftest import request_for

PLAN = """\
name: Miles night
timezone: America/Chicago
starts_at: 2027-03-02T22:00:00-06:00
program: {legacy: miles-classic, target: miles-plus}
environments:
  staging:
    base_url: http://127.0.0.1:9/systems/{system}
departments:
  - {id: ops, name: Operations, lead: Ann Lee, signoff_secret: OPS_SIGNOFF}
systems:
  - id: miles-core
    department: ops
    steps:
      - {step: switch, expected: 10m}
      - {step: http, id: retire-legacy, path: /retire, expected: 5m, undo: none}
      - {step: http, id: warm, path: /warm, expected: 5m, undo: /cool}
  - id: kiosks
    department: ops
    steps:
      - step: manual
        id: kiosks-checked
        expected: 30m
        checklist: [ORD kiosks restarted, DEN kiosks restarted]
phases:
  - id: night
    starts: +0h
    systems: [miles-core, kiosks]
"""


def context(tmp_path: Path, **fields: object) -> RunContext:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    ctx = RunContext.load(request_for(tmp_path, plan_path=str(plan), **fields))
    ctx.clock()
    return ctx


def done(ctx: RunContext, system: str, step: str) -> None:
    ctx.journal.begin(ctx.run_key, system, step)
    ctx.journal.finish(ctx.run_key, system, step, "done", {})


@pytest.mark.parametrize("past_point_of_no_return", [False, True])
def test_a_rollback_past_a_step_that_cannot_be_undone_is_refused_naming_it(
    tmp_path: Path, past_point_of_no_return: bool
) -> None:
    """Once `undo: none` is done, every rollback is refused, even a drill's past the point
    of no return; before it is done, the rollback is allowed and undoes the rest."""
    ctx = context(tmp_path, past_point_of_no_return=past_point_of_no_return)
    done(ctx, "miles-core", "switch")
    check_rollback_allowed(ctx)  # the irreversible step has not run: allowed
    done(ctx, "miles-core", "retire-legacy")
    done(ctx, "miles-core", "warm")
    with pytest.raises(RollbackError, match=r"miles-core · retire-legacy cannot be undone"):
        check_rollback_allowed(ctx)
    names = [name for name, _ in undo_steps(ctx, ctx.plan.system("miles-core"))]
    assert names == ["undo-warm", "switch-back"]  # nothing attempted for retire-legacy


def test_a_drill_confirms_a_manual_step_automatically_and_journals_it(tmp_path: Path) -> None:
    """auto_approve: the checklist is confirmed at once, journaled as automatic."""
    ctx = context(tmp_path)
    outcome = execute(ctx, "kiosks", "kiosks-checked")
    assert outcome.detail["confirmed_by"] == manual.AUTO
    assert outcome.detail["checklist"] == ["ORD kiosks restarted", "DEN kiosks restarted"]
    [decision] = ctx.journal.decisions(ctx.run_key)
    assert (decision.gate, decision.department, decision.decision) == (
        "manual-kiosks-kiosks-checked",
        "ops",
        "approve",
    )
    assert decision.comment == "drill: confirmed automatically"


def test_a_manual_step_waits_for_every_item_ticked_and_signed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong secret is refused, an unticked item holds (naming it), and only a signed,
    fully ticked answer confirms; the step then records who confirmed."""
    monkeypatch.setenv("OPS_SIGNOFF", "ops-s3cret")
    monkeypatch.setattr(manual, "_confirmer", None)  # a flow test in this process installs one
    ctx = context(tmp_path, auto_approve=False)
    system = ctx.plan.system("kiosks")
    step = ctx.plan.steps_in("kiosks", "night")[0]
    assert isinstance(step, manual.ManualStep)
    with pytest.raises(StepError, match="nothing here can ask them"):
        execute(ctx, "kiosks", "kiosks-checked")  # no confirmer installed: the engine alone
    answers = [
        (Answer("ops", "approve", "Ann Lee", "guess"), [True, True], "refused"),
        (Answer("ops", "approve", "Ann Lee", "ops-s3cret"), [True, False], "hold"),
        (Answer("ops", "approve", "ann  lee", "ops-s3cret"), [True, True], "approve"),
    ]
    lines = []

    def confirmer(ctx: RunContext, system: object, step: manual.ManualStep) -> str:
        for answer, ticked, expected in answers:
            verdict, line = manual.confirm(ctx, ctx.plan.system("kiosks"), step, answer, ticked)
            assert verdict == expected, line
            lines.append(line)
        return "Ann Lee"

    manual.set_confirmer(confirmer)
    try:
        outcome = execute(ctx, system.id, step.key)
    finally:
        manual.set_confirmer(None)
    assert outcome.detail["confirmed_by"] == "Ann Lee"
    assert lines[1] == "Operations held by Ann Lee: not ticked: item 2"
    decisions = [d.decision for d in ctx.journal.decisions(ctx.run_key)]
    assert decisions == ["refused", "hold", "approve"]
