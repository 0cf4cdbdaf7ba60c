"""Rehearsals at the mission's size: the loyalty core's stores moved to PostgreSQL, seeded big.

`--size large` (or `--members N`) turns a simulated environment's loyalty core
(`cutover.sim.records.find_core`: the system whose migrate step moves `members`)
onto PostgreSQL: both its stores in one scratch database (`cutover.drill.scratch`),
the legacy one seeded with N members and their months of history
(`cutover.drill.population`). The plan is written again beside its mapping and
carry-back files in the run's folder with only those two stores changed, so the
estate, the flows and reconciliation all read the same plan. `peak_rss_mb` reads a
process's peak resident memory, for the report.
"""

from __future__ import annotations

import resource
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cutover.errors import UsageError
from cutover.plan import load_plan
from cutover.sim.records import find_core

from .scratch import ScratchDatabase

SIZES: dict[str, int | None] = {"small": None, "large": 16_000_000}
"""`--size`: members seeded into PostgreSQL (small: the plan's own stores, no seeding)."""


@dataclass(frozen=True)
class CoreStores:
    """Where the loyalty core's two stores went, and the plan that says so."""

    plan: Path
    source_id: str
    target_id: str
    legacy_dsn: str
    tiers_dsn: str


def members_for(size: str | None, members: int | None) -> int | None:
    """The member count a `--size` and `--members` ask for (None: the plan's stores as they are)."""
    if size is not None and size not in SIZES:
        raise UsageError(f"--size {size!r}: use one of {', '.join(SIZES)}")
    if members is not None:
        if members <= 0:
            raise UsageError(f"--members must be at least 1 (got {members:,})")
        return members
    return SIZES.get(size or "small")


def sized_plan(plan_file: Path, env: str, scratch: ScratchDatabase, out_dir: Path) -> CoreStores:
    """Copy the plan's folder into `out_dir` with the core's stores on `scratch`; the new plan."""
    loaded = load_plan(plan_file)
    environment = loaded.plan.environments[env]
    core = find_core(loaded.plan, environment)
    if core is None:
        raise UsageError(
            f"{plan_file}: no system migrates a `members` table in {env!r}: nothing to size"
        )
    _, step = core
    folder = out_dir / "plan"
    source_dir = plan_file.resolve().parent
    shutil.copytree(source_dir, folder, dirs_exist_ok=True)
    data: dict[str, Any] = yaml.safe_load(plan_file.read_text(encoding="utf-8"))
    stores = data["environments"][env]["stores"]
    legacy, tiers = scratch.dsn("cutover_legacy"), scratch.dsn("cutover_tiers")
    stores[step.source] = {"engine": "postgresql", "dsn": legacy, "table": "members"}
    stores[step.target] = {"engine": "postgresql", "dsn": tiers, "table": "members"}
    sized = folder / plan_file.name
    sized.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return CoreStores(sized, step.source, step.target, legacy, tiers)


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory of process `pid` (this one by default), in MiB; 0 if unknown."""
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
