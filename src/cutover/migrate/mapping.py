"""A loaded mapping file compiled for the data plane: the runtime `Mapping`.

The file itself (its models, its checks, its loading) is `cutover.plan.mapping`;
`load_plan` loads every mapping a plan names. Here a `LoadedMapping` becomes a
`Mapping`, which adds what the data plane derives from it: the target columns, their
output types, the points pairs. Every public function of `cutover.migrate` takes a
`MappingRef` (a `LoadedMapping`, a compiled `Mapping`, or a path, loaded on the spot)
and turns it into a `Mapping` with `as_mapping`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cutover.plan.mapping import (
    FieldSpec,
    LoadedMapping,
    MappingFile,
    OperationSpec,
    OutputType,
    Rounding,
    SourceSpec,
    SourceType,
    TargetSpec,
    load_mapping_file,
)
from cutover.program import TIER_THRESHOLDS_CENTS

__all__ = [  # the file's models are re-exported: importers from before the move keep working
    "DEFAULT_TIERS",
    "FieldSpec",
    "LoadedMapping",
    "Mapping",
    "MappingFile",
    "MappingRef",
    "OperationSpec",
    "OutputType",
    "PointsPair",
    "Rounding",
    "SourceSpec",
    "SourceType",
    "TargetSpec",
    "as_mapping",
    "load_mapping",
    "output_type",
]

DEFAULT_TIERS: dict[str, int] = dict(TIER_THRESHOLDS_CENTS)
"""reward-tiers thresholds on lifetime centipoints (cutover.program)."""


@dataclass(frozen=True)
class PointsPair:
    """A source centipoint column and the two target columns it is split into."""

    source: str
    whole: str
    remainder: str


@dataclass(frozen=True)
class Mapping:
    """A validated mapping: the file's content plus what the data plane derives from it."""

    name: str
    path: str
    spec: MappingFile

    @property
    def source(self) -> SourceSpec:
        return self.spec.source

    @property
    def target(self) -> TargetSpec:
        return self.spec.target

    @property
    def rounding(self) -> Rounding:
        return self.spec.rounding

    @cached_property
    def fields(self) -> dict[str, FieldSpec]:
        if self.spec.fields is not None:
            return dict(self.spec.fields)
        return {name: FieldSpec.model_validate({"from": name}) for name in self.source.columns}

    @property
    def source_columns(self) -> list[str]:
        return list(self.source.columns)

    @property
    def target_columns(self) -> list[str]:
        return list(self.fields)

    @cached_property
    def output_types(self) -> dict[str, OutputType]:
        return {name: output_type(spec, self.source.columns) for name, spec in self.fields.items()}

    @cached_property
    def points_pairs(self) -> list[PointsPair]:
        wholes = {s.source: n for n, s in self.fields.items() if s.points == "whole"}
        rests = {s.source: n for n, s in self.fields.items() if s.points == "remainder"}
        return [PointsPair(src, wholes[src], rests[src]) for src in wholes if src in rests]

    def target_key(self, source_key: object) -> object:
        """The target key of a source key (the same value, cast if the mapping casts it)."""
        cast = self.fields[self.target.key].cast
        if source_key is None or cast is None:
            return source_key
        return str(source_key) if cast == "text" else int(str(source_key))

    @property
    def key_is_integer(self) -> bool:
        return self.output_types[self.target.key] == "integer"

    @property
    def sql_capable(self) -> bool:
        """Whether the transform can run in SQL: every source column is a native type."""
        return all(kind in ("integer", "text") for kind in self.source.columns.values()) and all(
            spec.cast is None
            or spec.cast == "text"
            or self.source.columns[spec.source] == "integer"
            for spec in self.fields.values()
        )


def output_type(spec: FieldSpec, columns: dict[str, SourceType]) -> OutputType:
    """The type a field produces, from its source column and its kind."""
    if spec.points is not None or spec.rule == "redeem-cost":
        return "integer"
    if spec.lookup is not None:  # a transform or pattern shapes the key; the lookup, the value
        values = [*spec.lookup.values(), *([spec.default] if spec.default is not None else [])]
        return "integer" if values and all(isinstance(v, int) for v in values) else "text"
    if spec.rule == "tier" or spec.transform or spec.pattern:
        return "text"
    if spec.cast is not None:
        return spec.cast
    return "text" if columns[spec.source] == "text" else "integer"


MappingRef = LoadedMapping | Mapping | str | Path
"""What the data plane's functions take as the mapping: the plan's loaded file (what the
engine passes), a compiled `Mapping`, or a path (`cutover migrate ...` by hand, tests)."""


def load_mapping(path: str | Path) -> Mapping:
    """Load, check and compile a mapping file; PlanError with every problem as FILE:LINE."""
    return compile_mapping(load_mapping_file(path))


def compile_mapping(loaded: LoadedMapping) -> Mapping:
    """The runtime `Mapping` of a loaded mapping file."""
    return Mapping(loaded.name, str(loaded.path), loaded.spec)


def as_mapping(mapping: MappingRef) -> Mapping:
    """The runtime `Mapping` of whatever a public function was given."""
    if isinstance(mapping, Mapping):
        return mapping
    if isinstance(mapping, LoadedMapping):
        return compile_mapping(mapping)
    return load_mapping(mapping)
