"""What every step of a run needs to know, rebuilt from the run's request in any process.

A per-system flow may run on a worker in another network: it receives only the
`RunRequest` (plain values) and rebuilds its context here, loading the plan (and
every file the plan names) once per process, so nothing assumes the orchestrating
process and no file is parsed twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cutover.clock import RunClock
from cutover.engine.request import RunRequest
from cutover.errors import UsageError
from cutover.journal import Journal
from cutover.plan import LoadedPlan, Timeline, build_timeline, load_plan
from cutover.plan.models import Environment, Plan, Store

_lock = threading.RLock()
_contexts: dict[RunRequest, RunContext] = {}
_journals: dict[str, Journal] = {}


@dataclass
class RunContext:
    request: RunRequest
    loaded: LoadedPlan
    _journal: Journal | None = field(default=None, repr=False)

    @classmethod
    def load(cls, request: RunRequest) -> RunContext:
        """The context for `request`; built once per process and reused by every step."""
        with _lock:
            cached = _contexts.get(request)
            if cached is not None:
                return cached
            loaded = load_plan(request.plan_path)
            if request.env not in loaded.plan.environments:
                known = ", ".join(loaded.plan.environments)
                raise UsageError(
                    f"environment {request.env!r} is not in the plan (it has: {known})"
                )
            context = cls(request, loaded)
            _contexts[request] = context
            return context

    @property
    def plan(self) -> Plan:
        return self.loaded.plan

    @property
    def environment(self) -> Environment:
        return self.plan.environments[self.request.env]

    @cached_property
    def timeline(self) -> Timeline:
        return build_timeline(self.plan, env=self.request.env)

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            with _lock:
                journal = _journals.get(self.request.journal)
                if journal is None:
                    journal = _journals[self.request.journal] = Journal(self.request.journal)
            self._journal = journal
        return self._journal

    @property
    def run_key(self) -> str:
        return self.request.run_key

    @property
    def workdir(self) -> Path:
        path = Path(self.request.workdir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def clock(self) -> RunClock:
        """The run's clock as the journal recorded it (opening the run if new)."""
        if self.request.scale == 1.0 and not self.environment.simulated:
            proposed = RunClock.production(self.plan.starts_at)
        else:
            proposed = RunClock.drill(self.plan.starts_at, self.request.scale)
        return self.journal.open_run(self.run_key, self.plan.name, self.request.env, proposed)

    def base_url(self, system_id: str) -> str:
        override = self.environment.systems.get(system_id)
        if override is not None:
            return override.base_url.rstrip("/")
        template = self.request.base_url or self.environment.base_url
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
                f"store {store_id!r} is not defined in environment {self.request.env!r}"
            )
        if store.path and not Path(store.path).is_absolute() and self.request.data_root:
            return store.model_copy(update={"path": str(Path(self.request.data_root) / store.path)})
        return store
