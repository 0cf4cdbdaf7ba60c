"""A verify step's `dataflow: ID` check: the phase waits on the trace, and the drill report
shows it (no system is contacted: the check is pure computation)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cutover.engine.context import RunContext
from cutover.engine.report import build_report, markdown
from cutover.engine.request import RunRequest
from cutover.engine.steps import execute
from cutover.errors import StepError
from support import PLANS

PLANTED = "{system: fraud-scoring, precision: whole-points, rounding: truncate}"
LAUNCH = "      - {step: switch, expected: 5m}\n\nfeatures:"
CHECKED = "      - {step: verify, checks: [dataflow: double-star-day], expected: 5m}\n" + LAUNCH


def checked_plan(tmp_path: Path, *, fixed: bool) -> Path:
    """rewards-tiers with go-live's last system verifying the promotion's trace first."""
    folder = tmp_path / "plans"
    shutil.copytree(PLANS, folder)
    plan = folder / "rewards-tiers.yaml"
    text = plan.read_text().replace(LAUNCH, CHECKED, 1)
    if fixed:
        text = text.replace(PLANTED, PLANTED.replace("truncate", "carry"))
    plan.write_text(text)
    return plan


def context(tmp_path: Path, plan: Path) -> RunContext:
    request = RunRequest(
        plan_path=str(plan),
        env="staging",
        run_key="trace-check",
        journal=str(tmp_path / "journal.db"),
        workdir=str(tmp_path / "run"),
    )
    return RunContext.load(request)


def report_of(ctx: RunContext) -> str:
    history = ctx.journal.history(ctx.run_key)
    full = build_report(
        plan=ctx.plan,
        timeline=ctx.timeline,
        run_key=ctx.run_key,
        env="staging",
        history=history,
        clock=ctx.clock(),
    )
    return markdown(full)


def test_the_planted_truncation_fails_the_verify_step_naming_its_hop(tmp_path: Path) -> None:
    ctx = context(tmp_path, checked_plan(tmp_path, fixed=False))
    with pytest.raises(StepError, match="first departs at hop 6 fraud-scoring"):
        execute(ctx, "launch-content", "verify")
    text = report_of(ctx)
    assert "## Data flows traced" in text
    assert "| launch-content · verify | double-star-day | — | FAILED |" in text


def test_the_fixed_flow_passes_and_the_report_shows_both_programs(tmp_path: Path) -> None:
    ctx = context(tmp_path, checked_plan(tmp_path, fixed=True))
    outcome = execute(ctx, "launch-content", "verify")
    assert outcome.detail["checks"] == ["dataflow: double-star-day"]
    [summary] = outcome.detail["dataflows"]
    assert summary["ok"] is True and set(summary["programs"]) == {"stars-classic", "reward-tiers"}
    text = report_of(ctx)
    for name in ("stars-classic", "reward-tiers"):
        assert (
            f"| launch-content · verify | double-star-day | {name} | passed | +0.00 points | — |"
            in text
        )
