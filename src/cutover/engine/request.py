"""The one request a run travels with, from the CLI to every flow and worker: typed, checked.

A per-system flow may run on a worker in another network, so a request holds only
plain values (a plan path, a journal URL without its password, names); each process rebuilds its
`RunContext` from it. The guards that keep production safe live here, where every
flow starts, so they hold whoever starts a run: the CLI, the Prefect UI's custom run,
`prefect deployment run` or a test.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cutover.secrets import holds_password

OnFailure = Literal["retry", "skip", "rollback"]
PRODUCTION = "production"
RUN_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,80}")


class RunRequest(BaseModel):
    """What to run, where, and how: keyword-only, immutable, hashable."""

    # a refused value may hold a password: errors name the field, never echo its input
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    plan_path: str = Field(description="the plan file (absolute in a deployment's parameters)")
    env: str = Field(description="an environment of the plan, spelled out")
    run_key: str = Field(description="names the run; the same key resumes it")
    journal: str = Field(description="the journal: a SQLite path or a postgresql:// URL")
    workdir: str = Field(description="where the run keeps its notices outbox and rejects")
    scale: float = Field(default=1.0, ge=1.0, description="plan seconds per real second")
    base_url: str | None = Field(
        default=None, description="overrides the environment's base_url (an estate's free port)"
    )
    auto_approve: bool = Field(default=False, description="drills: approve every gate")
    on_failure: OnFailure | None = Field(
        default=None, description="drills: answer decision gates automatically"
    )
    data_root: str | None = Field(
        default=None, description="folder that relative store paths are under (default: cwd)"
    )
    skip_idle: bool = Field(
        default=False, description="drills: jump the clock over idle time between phases"
    )
    rollback_at: str | None = Field(
        default=None, description="drills: SYSTEM:STEP after which the drill asks for a rollback"
    )
    watch_interval: float = Field(
        default=1.0, gt=0, description="seconds between refreshes of notices and boards"
    )
    local: bool = Field(
        default=False,
        description="run every system in the cutover flow's process, whatever pools the "
        "plan places them in (rehearsals on one machine)",
    )
    hand_over_rollback: bool = Field(
        default=True,
        description="after a rollback decision, run the rollback flow at once (a drill "
        "that clears its faults first starts it itself)",
    )
    past_point_of_no_return: bool = Field(
        default=False, description="drills: rehearse a rollback past the point of no return"
    )

    @field_validator("run_key")
    @classmethod
    def _run_key(cls, value: str) -> str:
        if not RUN_KEY.fullmatch(value):
            raise ValueError(f"{value!r}: use lowercase letters, digits and dashes (max 81)")
        return value

    @field_validator("journal")
    @classmethod
    def _journal(cls, value: str) -> str:
        if holds_password(value):
            raise ValueError(
                "the URL holds a password, which would be stored in the run's parameters; "
                "leave it out and set PGPASSWORD (or ~/.pgpass) where the run executes"
            )
        return value

    @model_validator(mode="after")
    def _guard(self) -> RunRequest:
        if self.env == PRODUCTION:
            refused = [
                name
                for name, on in (
                    (f"--time-scale {self.scale:g}", self.scale != 1.0),
                    ("--auto-approve", self.auto_approve),
                    ("--on-failure", self.on_failure is not None),
                    ("--skip-idle", self.skip_idle),
                    ("--rollback-at", self.rollback_at is not None),
                    ("--past-point-of-no-return", self.past_point_of_no_return),
                )
                if on
            ]
            if refused:
                raise ValueError(
                    "production runs in real time with signed gates: "
                    + " and ".join(refused)
                    + (" is" if len(refused) == 1 else " are")
                    + " refused for env production"
                )
        return self
