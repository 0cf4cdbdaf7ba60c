"""A plan's `http` job steps reach the system with their parameters, as docs/plan-file.md says."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cutover.engine.context import RunContext
from cutover.engine.request import RunRequest
from cutover.engine.steps import execute, job_params
from cutover.plan import load_plan
from cutover.plan.models import HttpStep
from cutover.sim import RunningEstate, running_estate
from support import PLANS

REWARDS = PLANS / "rewards-tiers.yaml"
TOKEN = "http-jobs-test-token"


@pytest.fixture
def rewards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEstate]:
    """The rewards-tiers plan's staging estate on a free loopback port (no stores needed)."""
    monkeypatch.setenv("CUTOVER_ESTATE_TOKEN", TOKEN)
    with running_estate(REWARDS, "staging", workdir=tmp_path, token=TOKEN) as running:
        yield running


def _jobs_received(estate: RunningEstate, system_id: str) -> dict[str, dict[str, object]]:
    """What the system itself recorded: job id -> parameters, read from its own SQLite file."""
    with sqlite3.connect(estate.state_dir / f"{system_id}.db") as conn:
        rows = conn.execute("select id, params from jobs").fetchall()
    return {job_id: json.loads(params) for job_id, params in rows}


@pytest.mark.parametrize(
    ("system_id", "step_key"),
    [("pos-stores", "push-tier-menu"), ("partner-gateway", "sync-partner-catalog")],
)
def test_the_seed_plans_job_steps_pass_their_parameters(
    tmp_path: Path, rewards: RunningEstate, system_id: str, step_key: str
) -> None:
    """`json: {job: push-reward-menu, stores: all}` arrives as params `{stores: all}`."""
    request = RunRequest(
        plan_path=str(REWARDS.resolve()),
        env="staging",
        run_key="http-jobs",
        journal=str(tmp_path / "journal.db"),
        workdir=str(tmp_path / "run"),
        base_url=rewards.base_url,
    )
    ctx = RunContext.load(request)
    ctx.clock()
    step = next(s for s in ctx.plan.system(system_id).steps if s.key == step_key)
    assert isinstance(step, HttpStep) and step.json_body
    written = {k: v for k, v in step.json_body.items() if k != "job"}
    assert written  # the seed plan's step does carry parameters

    outcome = execute(ctx, system_id, step_key)

    assert outcome.detail["job"]["status"] == "succeeded"
    received = _jobs_received(rewards, system_id)
    assert received == {outcome.detail["job"]["id"]: written}


def test_every_job_step_of_the_seed_plans_keeps_its_keys() -> None:
    """Whatever a seed plan writes beside `job` becomes a parameter; nothing is dropped."""
    for path in sorted(PLANS.glob("*.yaml")):
        for system in load_plan(path).plan.systems:
            for step in system.steps:
                if isinstance(step, HttpStep) and step.path == "/jobs" and step.json_body:
                    body = step.json_body
                    assert job_params(body) == {k: v for k, v in body.items() if k != "job"}


def test_nested_params_are_merged_over_the_other_keys() -> None:
    """`params:` (the control API's own spelling) still works, and wins over a same-named key."""
    body = {"job": "reindex", "index": "a", "params": {"index": "b", "full": True}}
    assert job_params(body) == {"index": "b", "full": True}
