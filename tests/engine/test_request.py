"""The run request: the guards every flow starts from, whoever starts it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cutover.engine.request import RunRequest

BASE = {
    "plan_path": "/plans/demo.yaml",
    "run_key": "night-1",
    "journal": "postgresql://cutover@db/cutover",
    "workdir": "/var/cutover/runs/night-1",
}


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ({"scale": 300.0}, "--time-scale 300"),
        ({"auto_approve": True}, "--auto-approve"),
        ({"on_failure": "rollback"}, "--on-failure"),
        ({"skip_idle": True}, "--skip-idle"),
        ({"rollback_at": "pos-stores:switch"}, "--rollback-at"),
        ({"past_point_of_no_return": True}, "--past-point-of-no-return"),
    ],
)
def test_production_refuses_every_drill_option(fields: dict[str, object], refused: str) -> None:
    with pytest.raises(ValidationError, match=f"{refused} is refused for env production"):
        RunRequest(**BASE, env="production", **fields)  # type: ignore[arg-type]


def test_the_same_options_are_fine_in_staging() -> None:
    request = RunRequest(**BASE, env="staging", scale=300.0, auto_approve=True, on_failure="skip")  # type: ignore[arg-type]
    assert request.scale == 300.0


def test_a_request_is_immutable_hashable_and_refuses_unknown_fields() -> None:
    request = RunRequest(**BASE, env="production")  # type: ignore[arg-type]
    assert hash(request) == hash(RunRequest(**BASE, env="production"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        request.scale = 2.0  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        RunRequest(**BASE, env="production", speed=2)  # type: ignore[arg-type]


def test_a_run_key_is_checked() -> None:
    with pytest.raises(
        ValidationError, match="'Night 1': use lowercase letters, digits and dashes"
    ):
        RunRequest(**{**BASE, "run_key": "Night 1"}, env="staging")  # type: ignore[arg-type]


def test_gates_wait_in_human_time_whatever_the_time_scale(tmp_path: Path) -> None:
    """A compressed drill compresses the plan, never the time a person has to sign."""
    from cutover.engine.context import RunContext
    from cutover.engine.phases import DRILL_GATE_WAIT, MIN_GATE_WAIT, gate_timeout
    from support import PLANS

    def ctx(**fields: object) -> RunContext:
        base = {
            "plan_path": str((PLANS / "rewards-tiers.yaml").resolve()),
            "run_key": "human",
            "journal": str(tmp_path / "j.db"),
            "workdir": str(tmp_path),
        }
        return RunContext.load(RunRequest(**{**base, **fields}))  # type: ignore[arg-type]

    drill = ctx(env="staging", scale=2000.0)
    assert gate_timeout(drill, 0) == DRILL_GATE_WAIT
    real = ctx(env="production")
    assert gate_timeout(real, 0) >= MIN_GATE_WAIT  # until the next phase is due


@pytest.mark.parametrize(
    "journal",
    [
        "postgresql://cutover:hunter2@db:5432/cutover",
        "postgres://cutover:hunter2@db/cutover",
        "postgresql+psycopg://cutover:hunter2@db/cutover",
        "postgresql://cutover@db/cutover?password=hunter2",
    ],
)
def test_a_journal_url_holding_a_password_is_refused(journal: str) -> None:
    """A request becomes a flow run's parameters: a password in it would be stored in
    Prefect's database and shown in the UI, so every request refuses one, by name only."""
    with pytest.raises(ValidationError, match="the URL holds a password") as refused:
        RunRequest(**{**BASE, "journal": journal}, env="staging")  # type: ignore[arg-type]
    assert "hunter2" not in str(refused.value)


def test_a_journal_url_without_a_password_is_fine() -> None:
    for journal in ("postgresql://cutover@db:5432/cutover", "var/journal.db", "postgresql://db/x"):
        request = RunRequest(**{**BASE, "journal": journal}, env="staging")  # type: ignore[arg-type]
        assert request.journal == journal
