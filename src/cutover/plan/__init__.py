"""The plan as data: load a `plans/*.yaml` file, check it, and schedule it.

    >>> loaded = load_plan("plans/demo.yaml")      # PlanError lists every problem
    >>> timeline = build_timeline(loaded.plan)

This package imports nothing else of cutover's and never imports Prefect, so
`cutover validate`, `show` and `schema` stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cutover.errors import PlanError
from cutover.plan.lint import lint
from cutover.plan.loader import Document, SourceMap, load_yaml, parse_model
from cutover.plan.models import Plan
from cutover.plan.timeline import Timeline, build_timeline

__all__ = [
    "Document",
    "LoadedPlan",
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
    """A validated plan, the file it came from, and the line of every value."""

    plan: Plan
    path: Path
    source: SourceMap

    @property
    def directory(self) -> Path:
        return self.path.parent


def load_plan(path: str | Path, *, check: bool = True) -> LoadedPlan:
    """Load, validate and (unless `check=False`) lint a plan; PlanError on any problem."""
    doc = load_yaml(path)
    plan = parse_model(doc, Plan)
    if check:
        problems = lint(plan, doc.source, Path(path).parent)
        if problems:
            raise PlanError(problems)
    return LoadedPlan(plan, Path(path), doc.source)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the plan file, for editors and `cutover schema`."""
    schema = Plan.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
