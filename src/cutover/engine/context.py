"""What every step of a run needs to know, rebuilt from plain parameters in any process.

A per-system flow may run on a worker in another network: it receives only
strings and numbers (plan path, environment, run key, journal URL, ...) and
rebuilds its context here, so nothing assumes the orchestrating process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cutover.clock import RunClock
from cutover.errors import UsageError
from cutover.journal import Journal
from cutover.plan import LoadedPlan, Timeline, build_timeline, load_plan
from cutover.plan.models import Environment, Plan, Store

_lock = threading.RLock()
_contexts: dict[RunParams, RunContext] = {}
_journals: dict[str, Journal] = {}


@dataclass(frozen=True)
class RunParams:
    """The plain parameters of a run; what Prefect passes between flows."""

    plan_path: str
    env: str
    run_key: str
    journal: str
    workdir: str
    scale: float = 1.0
    base_url: str | None = None
    """Overrides the environment's `base_url` (the demo's estate on a free port)."""
    auto_approve: bool = False
    on_failure: str | None = None
    """Drills: answer decision gates automatically (`retry`, `skip`, `rollback`)."""
    data_root: str | None = None
    """Relative store paths (SQLite files, CSV feeds) are under this folder (default: cwd)."""
    skip_idle: bool = False
    """Drills: when nothing runs, jump the clock to the next phase instead of waiting."""
    rollback_at: str | None = None
    """Drills: `SYSTEM:STEP` after which the drill asks for a rollback."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RunContext:
    params: RunParams
    loaded: LoadedPlan
    _journal: Journal | None = field(default=None, repr=False)

    @classmethod
    def load(cls, params: RunParams) -> RunContext:
        """The context for `params`; built once per process and reused by every step."""
        with _lock:
            cached = _contexts.get(params)
            if cached is not None:
                return cached
            loaded = load_plan(params.plan_path)
            if params.env not in loaded.plan.environments:
                known = ", ".join(loaded.plan.environments)
                raise UsageError(f"environment {params.env!r} is not in the plan (it has: {known})")
            context = cls(params, loaded)
            _contexts[params] = context
            return context

    @property
    def plan(self) -> Plan:
        return self.loaded.plan

    @property
    def environment(self) -> Environment:
        return self.plan.environments[self.params.env]

    @cached_property
    def timeline(self) -> Timeline:
        return build_timeline(self.plan)

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            with _lock:
                journal = _journals.get(self.params.journal)
                if journal is None:
                    journal = _journals[self.params.journal] = Journal(self.params.journal)
            self._journal = journal
        return self._journal

    @property
    def run_key(self) -> str:
        return self.params.run_key

    @property
    def workdir(self) -> Path:
        path = Path(self.params.workdir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def clock(self) -> RunClock:
        """The run's clock as the journal recorded it (opening the run if new)."""
        if self.params.scale == 1.0 and not self.environment.simulated:
            proposed = RunClock.production(self.plan.starts_at)
        else:
            proposed = RunClock.drill(self.plan.starts_at, self.params.scale)
        return self.journal.open_run(self.run_key, self.plan.name, self.params.env, proposed)

    def base_url(self, system_id: str) -> str:
        override = self.environment.systems.get(system_id)
        if override is not None:
            return override.base_url.rstrip("/")
        template = self.params.base_url or self.environment.base_url
        return template.replace("{system}", system_id).rstrip("/")

    def token_secret(self, system_id: str) -> str | None:
        override = self.environment.systems.get(system_id)
        if override is not None and override.token_secret:
            return override.token_secret
        return self.environment.token_secret

    def store(self, store_id: str) -> Store:
        store = self.environment.stores.get(store_id)
        if store is None:
            raise UsageError(
                f"store {store_id!r} is not defined in environment {self.params.env!r}"
            )
        if store.path and not Path(store.path).is_absolute() and self.params.data_root:
            return store.model_copy(update={"path": str(Path(self.params.data_root) / store.path)})
        return store

    def resolve_path(self, relative: str) -> Path:
        """A path the plan gives relative to itself (mappings) or to the working directory."""
        return (self.loaded.directory / relative).resolve()
