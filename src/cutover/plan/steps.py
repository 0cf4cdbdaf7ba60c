"""The steps of a system, one model per kind: what a plan's `steps:` entries may say.

Re-exported from `cutover.plan.models`; the engine's step kinds (`cutover.engine.steps`)
do and undo them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator

from cutover.plan.dataflows import DataflowCheck
from cutover.plan.durations import Duration, Expected, pick_expected
from cutover.plan.types import Id, Strict

FreezeMode = Literal["buffer-writes", "read-only", "offline"]
CheckName = Literal["counts", "checksums", "conservation", "system"]

ALL_CHECKS: tuple[CheckName, ...] = ("counts", "checksums", "conservation", "system")


def _dataflow_text(value: Any) -> Any:
    """`"dataflow: ID"` written as quoted text reads as the mapping `{dataflow: ID}`."""
    if isinstance(value, str) and value.strip().startswith("dataflow:"):
        return {"dataflow": value.split(":", 1)[1].strip()}
    return value


Check = Annotated[
    Annotated[CheckName, Tag("name")] | Annotated[DataflowCheck, Tag("dataflow")],
    Discriminator(lambda value: "name" if isinstance(value, str) else "dataflow"),
    BeforeValidator(_dataflow_text),
]
"""A verify check: a name (`counts`), or `dataflow: ID` (one error message either way)."""


class StepBase(Strict):
    id: Id | None = Field(
        default=None, description="unique within the system; defaults to the step kind"
    )
    expected: Expected = Field(
        description="planned duration, used by the timeline: `40m`, or per environment "
        "`{staging: 5m, production: 40m}` (an environment not named takes `production`'s, "
        "else the longest)"
    )
    degrades: list[Id] = Field(
        default_factory=list,
        description="features degraded while this step runs, beyond the system's freeze window",
    )
    point_of_no_return: bool = Field(
        default=False, description="after this step completes, rollback is no longer offered"
    )
    retries: int = Field(default=0, ge=0, le=10, description="step-level retries (orchestrator)")
    undo: str | None = Field(
        default=None,
        description="`none`: this step cannot be undone; once it is done, a rollback is "
        "refused, naming it (the kind's own undo otherwise)",
    )
    phase: Id | None = Field(
        default=None,
        description="the phase this step, and the steps after it, run in: a system's steps "
        "spread over several phases (two nights), each of which lists the system; default: "
        "the phase of the step before (the first step: the first phase listing the system)",
    )
    undo_paths: ClassVar[bool] = False
    """Whether `undo` may name a control API path (custom `http` steps)."""

    @field_validator("undo")
    @classmethod
    def _undo(cls, value: str | None) -> str | None:
        if value is None or value == "none" or (cls.undo_paths and value.startswith("/")):
            return value
        if cls.undo_paths:
            raise ValueError(
                f"{value!r}: `undo` is a control API path starting with '/', or `none` "
                "(the step cannot be undone)"
            )
        raise ValueError(
            f"{value!r}: `undo` takes only `none` (the step cannot be undone); "
            "a step kind's own undo needs no key"
        )

    @property
    def irreversible(self) -> bool:
        """`undo: none`: a rollback once this step is done is refused."""
        return self.undo == "none"

    def planned(self, env: str | None = None) -> timedelta:
        """The planned duration in `env` (None: the plain value, or `production`'s)."""
        return pick_expected(self.expected, env)

    @property
    def key(self) -> str:
        """The step's id within its system."""
        return self.id or self.step  # type: ignore[attr-defined]


class FreezeStep(StepBase):
    """Stop or buffer the system's writes."""

    step: Literal["freeze"]
    mode: FreezeMode = Field(
        description="buffer-writes: accepted and held, nothing degrades; "
        "read-only: writes refused, `degrades` features are degraded; offline: all refused"
    )


class MigrateStep(StepBase):
    """Move the system's data from a legacy store to a new one, with delta catch-up."""

    step: Literal["migrate"]
    source: Id = Field(description="store id, defined in each environment's `stores`")
    target: Id = Field(description="store id, defined in each environment's `stores`")
    mapping: str = Field(description="mapping file, relative to the plan file")
    max_lag: Duration = Field(
        default=timedelta(seconds=1), description="catch-up stops when lag is under this"
    )
    rollback: str | None = Field(
        default=None,
        description="carry-back file (relative to the plan): how writes made on the new store "
        "after the switch go back to the legacy one in a rollback; without it, a rollback "
        "refuses once the new store has taken writes",
    )


class VerifyStep(StepBase):
    """Prove the data arrived: counts, checksums, conservation, the system's own checks;
    and, with `dataflow: ID`, that a data flow's trace passes (`cutover trace`)."""

    step: Literal["verify"]
    checks: list[Check] = Field(
        default_factory=lambda: list[Check](ALL_CHECKS),
        description="any of counts, checksums, conservation, system (all four), and "
        "`dataflow: ID` for each data flow whose trace must pass",
    )

    @property
    def named_checks(self) -> list[CheckName]:
        """The checks of the data and of the system (every check but `dataflow:`)."""
        return [c for c in self.checks if isinstance(c, str)]

    @property
    def dataflows(self) -> list[str]:
        """The data flows whose traces must pass, in order."""
        return [c.dataflow for c in self.checks if isinstance(c, DataflowCheck)]

    @property
    def check_labels(self) -> list[str]:
        """Every check as people read it: `counts`, ..., `dataflow: ID`."""
        return [c if isinstance(c, str) else f"dataflow: {c.dataflow}" for c in self.checks]


class SwitchStep(StepBase):
    """Make the system serve the new program (or, in a rollback, the old one)."""

    step: Literal["switch"]
    version: str | None = Field(
        default=None, description="program version to serve; defaults to `program.target`"
    )


class UnfreezeStep(StepBase):
    """Resume writes, replaying buffered ones first, in order."""

    step: Literal["unfreeze"]


class HttpStep(StepBase):
    """A custom call to the system's control API (a reindex, a cache warm-up)."""

    step: Literal["http"]
    id: Id = Field(description="required for custom steps: names the step in runs and journal")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str = Field(pattern=r"^/", description="relative to the system's control API base URL")
    json_body: dict[str, Any] | None = Field(default=None, alias="json")
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])
    wait_job: bool = Field(
        default=False, description="the call answers a job id; wait on GET /jobs/{id}"
    )
    undo: str | None = Field(
        default=None,
        description="control API path that undoes this step; `none`: it cannot be undone "
        "(a rollback once it is done is refused)",
    )
    undo_paths: ClassVar[bool] = True


class ManualStep(StepBase):
    """Work done by hand (each airport's kiosks checked): a department ticks every item of
    the checklist and signs, like a gate, before the system's next step runs."""

    step: Literal["manual"]
    id: Id = Field(description="required for manual steps: names the step in runs and journal")
    checklist: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1,
        max_length=30,
        description="what the department confirms, one item each; every item must be ticked",
    )
    department: Id | None = Field(
        default=None,
        description="the department that confirms (its lead or a deputy, with the sign-off "
        "secret); default: the system's department",
    )


Step = Annotated[
    FreezeStep | MigrateStep | VerifyStep | SwitchStep | UnfreezeStep | HttpStep | ManualStep,
    Field(discriminator="step"),
]


def run_order(steps: list[Step], staged_early: Callable[[Step], bool]) -> list[Step]:
    """`steps` in the order a run takes them: as written, except that a migrate the plan
    puts first inside a cut (a freeze, then the migrate) runs before that freeze when
    `staged_early` says its source can be captured. Capture keeps the copy current while
    writes flow, and the freeze's final drain applies the rest: the bulk copy holds
    nobody's writes. The timeline, the flows and the journal all take this order."""
    out: list[Step] = []
    cut: list[Step] | None = None
    for step in steps:
        if cut is None:
            if isinstance(step, FreezeStep):
                cut = [step]
            else:
                out.append(step)
        elif len(cut) == 1 and staged_early(step):  # right after the freeze: it needs
            out.append(step)  # nothing the cut does before it (a schema job, a manual step)
        else:
            cut.append(step)
            if isinstance(step, UnfreezeStep):
                out += cut
                cut = None
    return out + (cut or [])
