"""The plan as data: pydantic models for every key of a `plans/*.yaml` file.

Unknown keys are refused everywhere, so a typo never silently means "default".
Cross-references (a system's department, a phase's systems, ...) are checked by
`cutover.plan.lint`, which knows where in the file each value came from.
"""

from __future__ import annotations

import re
import string
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from cutover.plan.dataflows import DataFlow
from cutover.plan.departments import Department as Department
from cutover.plan.departments import Signer as Signer
from cutover.plan.durations import Duration, Offset
from cutover.plan.notice_settings import DEFAULT_CHANNELS as DEFAULT_CHANNELS
from cutover.plan.notice_settings import Channel as Channel
from cutover.plan.notice_settings import NoticeDefaults as NoticeDefaults
from cutover.plan.steps import ALL_CHECKS as ALL_CHECKS
from cutover.plan.steps import CheckName as CheckName
from cutover.plan.steps import FreezeMode as FreezeMode
from cutover.plan.steps import FreezeStep as FreezeStep
from cutover.plan.steps import HttpStep as HttpStep
from cutover.plan.steps import ManualStep as ManualStep
from cutover.plan.steps import MigrateStep as MigrateStep
from cutover.plan.steps import Step as Step
from cutover.plan.steps import StepBase as StepBase
from cutover.plan.steps import SwitchStep as SwitchStep
from cutover.plan.steps import UnfreezeStep as UnfreezeStep
from cutover.plan.steps import VerifyStep as VerifyStep
from cutover.plan.steps import run_order
from cutover.plan.types import ID_PATTERN
from cutover.plan.types import Id as Id
from cutover.plan.types import SecretName as SecretName
from cutover.plan.types import Strict as Strict
from cutover.plan.windows import Avoid, AvoidWindow

FrontKind = Literal["pos", "partner-pos", "app", "web", "customer-service"]

AVOID_HELP = (
    "windows when no freeze of the system may run, like `Mon-Fri 05:00-09:00` (local, "
    "in the plan's timezone): the timeline and the run push a cut to the window's end"
)

NOTICE_FIELDS = frozenset({"feature", "start", "end", "duration", "program"})


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
    avoid: list[Avoid] = Field(default_factory=list, description=AVOID_HELP)

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


class MappingCheck(Strict):
    """A gap analysis the gate shows before people sign a mapping: the mapping run over a
    store of the run's environment (`cutover mapping check`), on the form and as an artifact."""

    mapping: str = Field(
        min_length=1,
        description="a mapping file the plan's migrate steps use, written as they write it "
        "(relative to the plan), e.g. mappings/member-feed.yaml",
    )
    store: Id = Field(
        description="the store holding the sample (a CSV feed or a table); defined in every "
        "environment, and read in the run's"
    )


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
    mapping_checks: list[MappingCheck] = Field(
        default_factory=list,
        description="gap analyses of the mappings this gate signs: each is run when the run "
        "reaches the gate and shown on its form (and as an artifact)",
    )


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
    feed: Literal["full", "delta"] | None = Field(
        default=None,
        description="csv only: `full` (the default: one line per key, a key twice is rejected "
        "with both lines) or `delta` (the last line per key wins; also any file whose header "
        "has the mapping's change column)",
    )

    @model_validator(mode="after")
    def _shape(self) -> Store:
        if self.engine in ("sqlite", "csv") and not self.path:
            raise ValueError(f"a {self.engine} store needs `path`")
        if self.feed is not None and self.engine != "csv":
            raise ValueError("`feed` is for csv stores (a file feed: full or delta)")
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
    avoid: list[Avoid] = Field(
        default_factory=list, description=AVOID_HELP + "; for every system, in this environment"
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

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
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
    data_flows: list[DataFlow] = Field(
        default_factory=list,
        description="values traced across systems, hop by hop (`cutover trace`)",
    )

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

    def data_flow(self, flow_id: str) -> DataFlow:
        for data_flow in self.data_flows:
            if data_flow.id == flow_id:
                return data_flow
        raise KeyError(flow_id)

    def phase_of(self, system_id: str) -> Phase:
        """The first phase listing the system (where its first step runs)."""
        for phase in self.phases:
            if system_id in phase.systems:
                return phase
        raise KeyError(system_id)

    def step_phases(self, system: System) -> list[str | None]:
        """The phase of each of the system's steps: its own `phase:`, else the step before's;
        the first step's, the first phase listing the system (None if none does)."""
        current = next((p.id for p in self.phases if system.id in p.systems), None)
        out: list[str | None] = []
        for step in system.steps:
            current = step.phase or current
            out.append(current)
        return out

    def steps_in(self, system_id: str, phase_id: str) -> list[Step]:
        """The system's steps that run in the phase (all of them for a system in one
        phase), in run order: what the per-system flow of that phase runs."""
        system = self.system(system_id)
        phases = zip(system.steps, self.step_phases(system), strict=True)
        return self.run_order([step for step, ph in phases if ph == phase_id])

    def staged_early(self, step: Step) -> bool:
        """A migrate whose source every environment can capture (no file feed)."""
        return isinstance(step, MigrateStep) and all(
            env.stores[step.source].engine != "csv"
            for env in self.environments.values()
            if step.source in env.stores
        )

    def run_order(self, steps: list[Step]) -> list[Step]:
        """`steps` in the order a run takes them (`cutover.plan.steps.run_order`)."""
        return run_order(steps, self.staged_early)

    def avoid_windows(
        self, system_id: str, env: str | None
    ) -> list[tuple[AvoidWindow, tuple[str | int, ...]]]:
        """The windows the system's freezes avoid in `env`, each with where the plan says it:
        the system's own, then the environment's (None: `production`'s, else every
        environment's, the most careful reading)."""
        index = next(i for i, s in enumerate(self.systems) if s.id == system_id)
        out: list[tuple[AvoidWindow, tuple[str | int, ...]]] = [
            (w, ("systems", index, "avoid", i)) for i, w in enumerate(self.systems[index].avoid)
        ]
        if env is None:
            names = ["production"] if "production" in self.environments else list(self.environments)
        else:
            names = [env]
        for name in names:
            windows = self.environments[name].avoid if name in self.environments else []
            out += [(w, ("environments", name, "avoid", i)) for i, w in enumerate(windows)]
        return out

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
