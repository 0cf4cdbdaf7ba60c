"""Rehearsals at the mission's size: the loyalty core's stores moved to PostgreSQL, seeded big.

`--size large` (or `--members N`) turns a simulated environment's loyalty core
(`cutover.sim.records.find_core`: the system whose migrate step moves `members`)
onto PostgreSQL: both its stores in one scratch database (`cutover.drill.scratch`),
the legacy one seeded with N members and their months of history
(`cutover.drill.population`). The plan is written again beside its mapping and
carry-back files in the run's folder with only those two stores changed, so the
estate, the flows and reconciliation all read the same plan. `estimate` and
`check_fits` size a run before anything is written: a size the machine cannot hold
is refused with the estimate. `peak_rss_mb` reads a
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

from .population import HISTORY_PER_MEMBER
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


# bytes on disk per row, measured on PostgreSQL 15 (heap + keys), with a margin
_MEMBER_BYTES = 150
_TXN_BYTES = 230
_COPY_FACTOR = 2.4
"""A member lives in the legacy table, the new one, a baseline or capture on the way."""
_FIXED_MEMORY = 3 << 30
"""The estate, the simulator, the cutover process and PostgreSQL's own, at any size."""


@dataclass(frozen=True)
class Estimate:
    members: int
    history_rows: int
    disk_bytes: int
    memory_bytes: int

    def describe(self) -> str:
        return (
            f"{self.members:,} members and {self.history_rows:,} history rows need about "
            f"{self.disk_bytes / 2**30:,.1f} GiB of disk and {self.memory_bytes / 2**30:,.1f} GiB of memory"
        )


def estimate(members: int, history: float = HISTORY_PER_MEMBER) -> Estimate:
    """Disk and memory a rehearsal of `members` needs (memory does not grow with the size)."""
    rows = int(members * (1 + history))
    disk = int(members * _MEMBER_BYTES * _COPY_FACTOR + rows * _TXN_BYTES) + (2 << 30)
    return Estimate(members, rows, disk, _FIXED_MEMORY)


def check_size(members: int, rate: float | None = None) -> None:
    """One line for a size or a rate that makes no sense (exit 2)."""
    if members <= 0:
        raise UsageError(f"--members must be at least 1 (got {members:,})")
    if rate is not None and not rate > 0:
        raise UsageError(f"--rate must be more than 0 transactions per second (got {rate:g})")


def check_fits(need: Estimate, *, data_dir: str | None) -> None:
    """UsageError with the estimate when the disk (PostgreSQL's, if we can see it) or memory is short."""
    where = data_dir if data_dir and Path(data_dir).is_dir() else "/"
    free = shutil.disk_usage(where).free
    if need.disk_bytes > free:
        raise UsageError(
            f"{need.describe()}; {where} has {free / 2**30:,.1f} GiB free: use fewer --members"
        )
    available = _available_memory()
    if available is not None and need.memory_bytes > available:
        raise UsageError(f"{need.describe()}; {available / 2**30:,.1f} GiB of memory is available")


def _available_memory() -> int | None:
    try:
        with Path("/proc/meminfo").open(encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
