"""A plan's migrate step bound to one environment: its two stores and its mapping.

What the CLI and the flows both need before calling the data plane: the source and
target `Store` settings of `environments.<env>.stores`, named for messages
(`members-legacy (sqlite:var/staging/members-legacy.db)`), and the mapping file as
`load_plan` loaded it (parsed once, with the plan). Relative SQLite and CSV paths are relative to the working
directory, where the operator runs cutover.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cutover.errors import UsageError
from cutover.migrate.migration import Endpoint
from cutover.migrate.stores import describe
from cutover.plan import LoadedMapping, LoadedPlan, load_plan
from cutover.plan.models import CheckName, MigrateStep, VerifyStep


@dataclass(frozen=True)
class Binding:
    """Everything a data-plane call needs for one system's migrate step in one environment."""

    system: str
    step: MigrateStep
    source: Endpoint
    target: Endpoint
    mapping: LoadedMapping
    checks: tuple[str, ...]
    """The data checks of the system's verify step (counts, checksums, conservation)."""

    @property
    def max_lag_s(self) -> float:
        return self.step.max_lag.total_seconds()


def bind(plan: str | Path | LoadedPlan, env: str, system: str, step: str | None = None) -> Binding:
    """Resolve `system`'s migrate step in `env`; UsageError naming what is missing."""
    loaded = plan if isinstance(plan, LoadedPlan) else load_plan(plan)
    p = loaded.plan
    if env not in p.environments:
        raise UsageError(
            f"no environment {env!r} in {loaded.path}; use one of {', '.join(p.environments)}"
        )
    try:
        sys_ = p.system(system)
    except KeyError:
        raise UsageError(f"no system {system!r} in {loaded.path}") from None
    migrates = [s for s in sys_.steps if isinstance(s, MigrateStep)]
    if step is not None:
        migrates = [s for s in migrates if s.key == step]
    if not migrates:
        what = f"step {step!r}" if step else "a migrate step"
        raise UsageError(f"system {system!r} has no {what}")
    if len(migrates) > 1:
        ids = ", ".join(s.key for s in migrates)
        raise UsageError(
            f"system {system!r} has several migrate steps ({ids}); pick one with --step"
        )
    chosen = migrates[0]
    stores = p.environments[env].stores
    ends = []
    for role, store_id in (("source", chosen.source), ("target", chosen.target)):
        if store_id not in stores:
            raise UsageError(
                f"environment {env!r} defines no store {store_id!r} (the {role} of {system})"
            )
        config = stores[store_id]
        ends.append(Endpoint(config, f"{store_id} ({describe(config)})"))
    verify_steps = [s for s in sys_.steps if isinstance(s, VerifyStep)]
    data_checks: tuple[CheckName, ...] = ("counts", "checksums", "conservation")
    checks = tuple(
        c
        for c in (verify_steps[0].named_checks if verify_steps else data_checks)
        if c in data_checks
    )
    return Binding(system, chosen, ends[0], ends[1], loaded.mapping(chosen), checks)
