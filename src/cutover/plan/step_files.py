"""The files a plan's migrate steps point at, loaded with the plan: mappings and carry-backs.

A migrate step names a `mapping:` file and may name a `rollback:` carry-back file,
both relative to the plan file and inside its folder (symlinks resolved: a path
that leads out, by `..`, an absolute path or a link, is refused). `load_plan`
loads each one once (keyed by the name as written in the plan), so a bad file
fails `cutover validate` like a bad plan: its
problems read `FILE:LINE: message` in that file, and a missing one is reported at
the plan's line that names it. After that the loaded objects travel, not the paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from cutover.errors import PlanError, Problem
from cutover.plan.carry_back import CarryBack, load_carry_back
from cutover.plan.loader import SourceMap
from cutover.plan.mapping import LoadedMapping, load_mapping_file
from cutover.plan.models import MigrateStep, Plan

T = TypeVar("T")
PathKey = tuple[str | int, ...]


@dataclass
class StepFiles:
    """Every mapping and carry-back file of a plan, loaded, and what was wrong with them."""

    mappings: dict[str, LoadedMapping] = field(default_factory=dict)
    carry_backs: dict[str, CarryBack] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def load_step_files(plan: Plan, source: SourceMap, plan_dir: Path) -> StepFiles:
    """Load each file the plan's migrate steps name, once; collect every problem."""
    mappings = _Files("mapping file", load_mapping_file, plan_dir, source)
    carry_backs = _Files("carry-back file", load_carry_back, plan_dir, source)
    for path, step in _migrate_steps(plan):
        mappings.take(step.mapping, (*path, "mapping"))
        if step.rollback is not None:
            carry_backs.take(step.rollback, (*path, "rollback"))
    return StepFiles(
        mappings.loaded, carry_backs.loaded, [*mappings.problems, *carry_backs.problems]
    )


def _migrate_steps(plan: Plan) -> Iterator[tuple[PathKey, MigrateStep]]:
    for si, system in enumerate(plan.systems):
        for ti, step in enumerate(system.steps):
            if isinstance(step, MigrateStep):
                yield ("systems", si, "steps", ti), step


class _Files(Generic[T]):
    """One kind of file: each name loaded once, good ones kept, problems collected."""

    def __init__(
        self, what: str, load: Callable[[Path], T], plan_dir: Path, source: SourceMap
    ) -> None:
        self.what = what
        self.load = load
        self.plan_dir = plan_dir
        self.source = source
        self.loaded: dict[str, T] = {}
        self.failed: set[str] = set()
        self.problems: list[Problem] = []

    def take(self, name: str, named_at: PathKey) -> None:
        """Load `name` (relative to the plan) unless done; a missing file is the plan's problem."""
        file = self.plan_dir / name
        if not _inside(file, self.plan_dir):  # symlinks resolved first: `..` or a link out
            kind = self.what.removesuffix(" file")
            self.problems.append(
                self.source.problem(named_at, f"{kind} path {name!r} leaves the plan's folder")
            )
        elif not file.is_file():  # only regular files are read: no FIFO, device or directory
            why = "is not a regular file" if file.exists() else "not found"
            self.problems.append(
                self.source.problem(
                    named_at, f"{self.what} {name!r} {why} (relative to the plan file)"
                )
            )
        elif name not in self.loaded and name not in self.failed:
            try:
                self.loaded[name] = self.load(file)
            except PlanError as exc:
                self.failed.add(name)
                self.problems += exc.problems


def _inside(file: Path, folder: Path) -> bool:
    """Whether `file`, every symlink resolved, is under `folder` (a symlink loop is inside:
    it is then reported as not found, at the plan's line)."""
    try:
        return file.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return True
