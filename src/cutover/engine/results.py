"""What running a cutover returns: typed results instead of string-keyed dictionaries."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StepStatus = Literal["done", "already-done"]
Outcome = Literal["completed", "rollback-requested", "rolled-back"]
"""`rollback-requested`: a rollback was decided and not handed over (a drill starts it itself)."""


class StepOutcome(BaseModel):
    """One step of one system: done now, or found done in the journal."""

    model_config = ConfigDict(frozen=True)

    system: str
    step: str
    status: StepStatus
    detail: dict[str, Any] = Field(default_factory=dict)


class SystemResult(BaseModel):
    """One system's steps in a run."""

    system: str
    steps: list[StepOutcome]


class RollbackSummary(BaseModel):
    """How a rollback ended: the systems it took back and how long it took."""

    run_key: str
    rolled_back: list[str]
    rto_seconds: float


class RunSummary(BaseModel):
    """How a cutover run ended."""

    run_key: str
    outcome: Outcome
    phases: int
    systems: int
    notices: int
    undelivered: dict[str, int] = Field(
        default_factory=dict,
        description="per notice sink, the notices it had still not delivered when the run "
        "ended (its receiver down or refusing; `notice_not_delivered` in the log says why)",
    )
    skipped: list[str] = Field(default_factory=list)
    stopped_at: str = ""
    workdir: str = ""
    rollback: RollbackSummary | None = None
