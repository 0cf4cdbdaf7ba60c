"""The plan as data: load a `plans/*.yaml` file, check it, and schedule it.

    >>> loaded = load_plan("plans/demo.yaml")      # PlanError lists every problem
    >>> timeline = build_timeline(loaded.plan)
    >>> loaded.mapping(step)                        # a migrate step's mapping file, loaded
    >>> loaded.carry_back(step)                     # its carry-back file, or None

The plan and every file it points at (mappings, carry-backs) are parsed once, here;
after that, objects travel, not paths.

This package imports nothing else of cutover's and never imports Prefect, so
`cutover validate`, `show` and `schema` stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cutover.errors import PlanError
from cutover.plan.carry_back import CarryBack
from cutover.plan.lint import lint
from cutover.plan.loader import Document, SourceMap, load_yaml, parse_model
from cutover.plan.mapping import LoadedMapping, MappingFile
from cutover.plan.models import MigrateStep, Plan
from cutover.plan.step_files import load_step_files
from cutover.plan.timeline import Timeline, build_timeline

__all__ = [
    "CarryBack",
    "Document",
    "LoadedMapping",
    "LoadedPlan",
    "MappingFile",
    "Plan",
    "PlanError",
    "SourceMap",
    "Timeline",
    "build_timeline",
    "json_schema",
    "load_plan",
]


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan, the file it came from, the line of every value, and its step files."""

    plan: Plan
    path: Path
    source: SourceMap
    mappings: dict[str, LoadedMapping] = field(default_factory=dict)
    """Every migrate step's mapping file, loaded and checked; keyed by `step.mapping` as written."""
    carry_backs: dict[str, CarryBack] = field(default_factory=dict)
    """Every migrate step's carry-back file, loaded and checked; keyed by `step.rollback`."""

    @property
    def directory(self) -> Path:
        return self.path.parent

    def mapping(self, step: MigrateStep) -> LoadedMapping:
        """The step's mapping file, as loaded with the plan."""
        return self.mappings[step.mapping]

    def carry_back(self, step: MigrateStep) -> CarryBack | None:
        """The step's carry-back file as loaded with the plan, or None if it names none."""
        return None if step.rollback is None else self.carry_backs[step.rollback]


def load_plan(path: str | Path, *, check: bool = True) -> LoadedPlan:
    """Load, validate and (unless `check=False`) lint a plan, and load every file it names.

    PlanError with every problem found: the plan's own and those of its mapping and
    carry-back files, each as FILE:LINE in the file at fault. `check=False` skips the
    plan's lint, never the step files: they are always loaded and checked.
    """
    doc = load_yaml(path)
    plan = parse_model(doc, Plan)
    files = load_step_files(plan, doc.source, Path(path).parent)
    problems = [*files.problems, *(lint(plan, doc.source) if check else [])]
    if problems:
        raise PlanError(problems)
    return LoadedPlan(plan, Path(path), doc.source, files.mappings, files.carry_backs)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the plan file, for editors and `cutover schema`."""
    schema = Plan.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
