"""The plan as data: pydantic models for every key of a `plans/*.yaml` file.

Unknown keys are refused everywhere, so a typo never silently means "default".
Cross-references (a system's department, a phase's systems, ...) are checked by
`cutover.plan.lint`, which knows where in the file each value came from.
"""

from __future__ import annotations

import re
import string
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from cutover.plan.departments import Department as Department
from cutover.plan.departments import Signer as Signer
from cutover.plan.durations import Duration, Offset
from cutover.plan.notice_settings import DEFAULT_CHANNELS as DEFAULT_CHANNELS
from cutover.plan.notice_settings import Channel as Channel
from cutover.plan.notice_settings import NoticeDefaults as NoticeDefaults
from cutover.plan.types import ID_PATTERN
from cutover.plan.types import Id as Id
from cutover.plan.types import SecretName as SecretName
from cutover.plan.types import Strict as Strict

FreezeMode = Literal["buffer-writes", "read-only", "offline"]
FrontKind = Literal["pos", "partner-pos", "app", "web", "customer-service"]
CheckName = Literal["counts", "checksums", "conservation", "system"]

ALL_CHECKS: tuple[CheckName, ...] = ("counts", "checksums", "conservation", "system")
NOTICE_FIELDS = frozenset({"feature", "start", "end", "duration", "program"})


# --------------------------------------------------------------------------- steps


class StepBase(Strict):
    id: Id | None = Field(
        default=None, description="unique within the system; defaults to the step kind"
    )
    expected: Duration = Field(description="planned duration, used by the timeline")
    degrades: list[Id] = Field(
        default_factory=list,
        description="features degraded while this step runs, beyond the system's freeze window",
    )
    point_of_no_return: bool = Field(
        default=False, description="after this step completes, rollback is no longer offered"
    )
    retries: int = Field(default=0, ge=0, le=10, description="step-level retries (orchestrator)")

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
    """Prove the data arrived: counts, checksums, conservation, the system's own checks."""

    step: Literal["verify"]
    checks: list[CheckName] = Field(default_factory=lambda: list(ALL_CHECKS))


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
        default=None, pattern=r"^/", description="control API path that undoes this step"
    )


Step = Annotated[
    FreezeStep | MigrateStep | VerifyStep | SwitchStep | UnfreezeStep | HttpStep,
    Field(discriminator="step"),
]


# ------------------------------------------------------------------ organisation


class System(Strict):
    id: Id
    name: str | None = None
    department: Id
    front: FrontKind | None = Field(
        default=None, description="customers transact through this system (simulated traffic)"
    )
    depends_on: list[Id] = Field(default_factory=list)
    degrades: list[Id] = Field(
        default_factory=list,
        description="features degraded while the system is frozen read-only or offline",
    )
    steps: list[Step] = Field(min_length=1)

    @property
    def title(self) -> str:
        return self.name or self.id


class NoticeText(Strict):
    """Customer-facing text per moment; placeholders {feature} {start} {end} {duration}."""

    advance: str | None = None
    started: str | None = None
    extended: str | None = None
    restored: str | None = None
    rolled_back: str | None = None

    @field_validator("*")
    @classmethod
    def _placeholders(cls, value: str | None) -> str | None:
        if value is None:
            return value
        for _, name, _, _ in string.Formatter().parse(value):
            if name is not None and name not in NOTICE_FIELDS:
                known = ", ".join("{" + n + "}" for n in sorted(NOTICE_FIELDS))
                raise ValueError(f"unknown placeholder {{{name}}}; use {known}")
        return value


class Notice(Strict):
    lead: Duration | None = Field(
        default=None, description="advance notice lead time; defaults to `notices.lead`"
    )
    channels: list[Channel] | None = Field(
        default=None, description="defaults to `notices.channels`"
    )
    text: NoticeText = Field(default_factory=NoticeText)
    channel_text: dict[Channel, NoticeText] = Field(
        default_factory=dict, description="per-channel overrides of `text`"
    )


class Feature(Strict):
    id: Id
    name: str = Field(min_length=1, description="as customers know it")
    status_component: str | None = Field(
        default=None, description="status page component; defaults to `name`"
    )
    notice: Notice | None = None


DepartmentRef = Annotated[
    str,
    Field(min_length=1),
    WithJsonSchema({"type": "string", "pattern": ID_PATTERN, "description": "a department id"}),
]
"""A department id; any text is taken here so that lint can say which department was meant."""


class Gate(Strict):
    approvers: list[DepartmentRef] = Field(
        min_length=1, description="department ids; each signs separately"
    )
    timeout: Duration | None = Field(
        default=None,
        description="how long a person has to answer, in real time (never compressed); "
        "default: in real time until the next phase is due (at least 12 h), in a "
        "compressed drill 30 minutes",
    )
    note: str | None = Field(default=None, description="shown to the leads on the sign-off form")


class Phase(Strict):
    id: Id
    name: str | None = None
    starts: Offset = Field(description="relative to `starts_at`, e.g. +24h")
    systems: list[Id] = Field(min_length=1)
    gate: Gate | None = None

    @property
    def title(self) -> str:
        return self.name or self.id


class Budget(Strict):
    feature: Id
    max_outage: Duration = Field(description="the longest single window the feature may be down")
    max_total: Duration | None = Field(
        default=None, description="all windows together, over the whole cutover"
    )


# ------------------------------------------------------------------ environments


class Store(Strict):
    engine: Literal["sqlite", "postgresql", "csv"]
    path: str | None = Field(default=None, description="sqlite file or csv file/folder")
    dsn: str | None = Field(default=None, description="postgresql://user@host:port/db, no password")
    password_secret: SecretName | None = None
    table: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Store:
        if self.engine in ("sqlite", "csv") and not self.path:
            raise ValueError(f"a {self.engine} store needs `path`")
        if self.engine == "postgresql":
            if not self.dsn:
                raise ValueError("a postgresql store needs `dsn`")
            if re.search(r"://[^/@:]+:[^/@]+@", self.dsn) or re.search(
                r"\bpassword\s*=", self.dsn, re.I
            ):
                raise ValueError("the dsn holds a password; name it with `password_secret` instead")
        return self


class Endpoint(Strict):
    base_url: str = Field(pattern=r"^https?://")
    token_secret: SecretName | None = None


class Environment(Strict):
    base_url: str = Field(
        pattern=r"^https?://",
        description="each system's base URL; `{system}` is replaced by the system id; "
        "the control API is at {base_url}/cutover/v1",
    )
    token_secret: SecretName | None = Field(
        default=None, description="name of the bearer token secret"
    )
    simulated: bool = Field(
        default=False, description="served by `cutover estate serve` (staging and drills)"
    )
    stores: dict[Id, Store] = Field(default_factory=dict)
    systems: dict[Id, Endpoint] = Field(
        default_factory=dict, description="per-system endpoint overrides"
    )
    pools: dict[Id, list[Id]] = Field(
        default_factory=dict,
        description="Prefect work pools and the systems each reaches: a system listed "
        "under a pool runs on that pool's worker (`cutover deploy` creates the pools and "
        "deployments); a system in no pool runs in the cutover flow's own process",
    )
    control_pool: Id = Field(
        default="cutover-control",
        description="the work pool whose worker runs the cutover and rollback flows "
        "when they are started from their deployments",
    )

    def pool_of(self, system_id: str) -> str | None:
        """The work pool the plan places this system in, if any."""
        return next((pool for pool, ids in self.pools.items() if system_id in ids), None)


class Program(Strict):
    legacy: str = Field(description="version the systems serve before the cutover")
    target: str = Field(description="version they serve after")
    names: dict[str, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict,
        description="version -> the name customers know it by (`{program}` in notices); "
        "a version without one is shown as its id",
    )

    def name(self, version: str) -> str:
        """What customers call `version`: its name in `names`, else the version itself."""
        return self.names.get(version, version)


# ------------------------------------------------------------------------- plan


class Plan(Strict):
    """A whole cutover, as written in one plan file."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        json_schema_extra={"title": "cutover plan", "$id": "https://cutover.dev/schema/plan.json"},
    )

    name: str = Field(min_length=1)
    description: str | None = None
    timezone: str = Field(description="IANA zone customers read times in, e.g. America/Chicago")
    starts_at: datetime = Field(description="absolute start; phases are relative to it")
    program: Program
    notices: NoticeDefaults = Field(default_factory=NoticeDefaults)
    environments: dict[Id, Environment] = Field(min_length=1)
    departments: list[Department] = Field(min_length=1)
    systems: list[System] = Field(min_length=1)
    features: list[Feature] = Field(default_factory=list)
    phases: list[Phase] = Field(min_length=1)
    budgets: list[Budget] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name like Europe/Paris"
            ) from None
        return value

    @model_validator(mode="after")
    def _aware_start(self) -> Plan:
        if self.starts_at.tzinfo is None:
            object.__setattr__(
                self, "starts_at", self.starts_at.replace(tzinfo=ZoneInfo(self.timezone))
            )
        return self

    # lookups --------------------------------------------------------------

    def system(self, system_id: str) -> System:
        for system in self.systems:
            if system.id == system_id:
                return system
        raise KeyError(system_id)

    def department(self, department_id: str) -> Department:
        for department in self.departments:
            if department.id == department_id:
                return department
        raise KeyError(department_id)

    def feature(self, feature_id: str) -> Feature:
        for feature in self.features:
            if feature.id == feature_id:
                return feature
        raise KeyError(feature_id)

    def phase_of(self, system_id: str) -> Phase:
        for phase in self.phases:
            if system_id in phase.systems:
                return phase
        raise KeyError(system_id)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
