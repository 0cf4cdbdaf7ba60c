"""Mapping files (`plans/mappings/*.yaml`): how each target column is made from a source row.

A mapping names the source table, its key and the columns it expects (the
contract a feed or a legacy table must keep: any drift is an error), the target
table and key, and one entry per target column:

```yaml
source:
  table: members
  key: member_id
  columns: {member_id: integer, email: text, status: text, points_cents: integer}
target: {table: members, key: member_id}
rounding: floor                      # floor | ceil | half-up | truncate
fields:
  member_id: member_id               # shorthand for {from: member_id}
  email: {from: email, transform: [trim, lower], required: true, pattern: '^[^@ ]+@[^@ ]+$'}
  status: {from: status, lookup: {active: active, closed: closed}}
  tier: {from: lifetime_cents, rule: tier}
  points: {from: points_cents, points: whole}
  remainder_cents: {from: points_cents, points: remainder}
```

Loaded with `cutover.plan.loader`, so every problem reads `FILE:LINE: message`.
Whole points never come without their remainder column: the carry is never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from cutover.errors import PlanError, Problem
from cutover.plan.loader import Document, load_yaml, parse_model
from cutover.program import TIER_THRESHOLDS_CENTS

SourceType = Literal["integer", "text", "cents"]
"""Source column types: `cents` is a decimal with at most two places ("123.45"), kept
as an integer count of hundredths so no float ever rounds it."""
OutputType = Literal["integer", "text"]
Transform = Literal["trim", "lower", "upper"]
Rounding = Literal["floor", "ceil", "half-up", "truncate"]
Rule = Literal["tier", "redeem-cost"]

Name = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
        description="a column or table name: letters, digits, _",
    ),
]
TableName = Annotated[
    str,
    Field(
        pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$",
        description="table, optionally schema.table",
    ),
]

DEFAULT_TIERS: dict[str, int] = dict(TIER_THRESHOLDS_CENTS)
"""reward-tiers thresholds on lifetime centipoints (cutover.program)."""


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class OperationSpec(_Strict):
    """A delta file's change column: which rows are upserts and which delete their key."""

    column: Name = Field(
        description="the feed column naming each row's change (not a source column)"
    )
    delete: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        default=["D"], min_length=1, description="values that delete the row's key"
    )
    upsert: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        default=["I", "U"], description="values that insert or update the row (empty counts too)"
    )


class SourceSpec(_Strict):
    table: TableName = Field(description="default table; a store's `table` setting overrides it")
    key: Name = Field(description="unique key column: chunks are key-ordered, changes keyed by it")
    columns: dict[Name, SourceType] = Field(
        min_length=1, description="every column the source has, with its type: drift is an error"
    )
    operation: OperationSpec | None = Field(
        default=None,
        description="file feeds: a delta file's change column (optional in each file's header)",
    )


class TargetSpec(_Strict):
    table: TableName = Field(description="default table; a store's `table` setting overrides it")
    key: Name


class FieldSpec(_Strict):
    """How one target column is computed from one source column."""

    source: Name = Field(alias="from", description="the source column")
    cast: Literal["integer", "text"] | None = None
    transform: Annotated[list[Transform], BeforeValidator(_as_list)] = Field(
        default_factory=list,
        description="applied in order; `lower`/`upper` touch ASCII letters only",
    )
    required: bool = Field(default=False, description="a missing or empty value rejects the row")
    pattern: str | None = Field(
        default=None, description="a value that does not match rejects the row"
    )
    lookup: dict[str, str | int] | None = Field(
        default=None, description="value map; a value not listed rejects the row (unless `default`)"
    )
    default: str | int | None = Field(default=None, description="lookup result for unlisted values")
    rule: Rule | None = Field(
        default=None,
        description="tier: reward tier of lifetime centipoints; redeem-cost: of a price",
    )
    thresholds: dict[str, int] | None = Field(
        default=None,
        description="rule tier: {tier: lowest lifetime centipoints}; default reward-tiers",
    )
    points: Literal["whole", "remainder"] | None = Field(
        default=None, description="split centipoints into whole points and the carried remainder"
    )
    min: int | None = Field(default=None, description="an integer below this rejects the row")
    max: int | None = Field(default=None, description="an integer above this rejects the row")


def _shorthand(value: object) -> object:
    if isinstance(value, dict):
        return {k: {"from": v} if isinstance(v, str) else v for k, v in value.items()}
    return value


class MappingFile(_Strict):
    """The document as written (validated shape); `Mapping` adds the cross-checks."""

    description: str | None = None
    source: SourceSpec
    target: TargetSpec
    rounding: Rounding = Field(
        default="floor", description="how centipoints become whole points; the remainder is carried"
    )
    fields: Annotated[dict[Name, FieldSpec] | None, BeforeValidator(_shorthand)] = Field(
        default=None, description="target column -> spec; omitted: every source column unchanged"
    )


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
    if spec.rule == "tier" or spec.transform or spec.pattern:
        return "text"
    if spec.lookup is not None:
        values = [*spec.lookup.values(), *([spec.default] if spec.default is not None else [])]
        return "integer" if values and all(isinstance(v, int) for v in values) else "text"
    if spec.cast is not None:
        return spec.cast
    return "text" if columns[spec.source] == "text" else "integer"


def load_mapping(path: str | Path) -> Mapping:
    """Load and check a mapping file; PlanError with every problem as FILE:LINE otherwise."""
    doc = load_yaml(path)
    spec = parse_model(doc, MappingFile, what="mapping")
    mapping = Mapping(Path(path).stem, str(path), spec)
    problems = list(_problems(mapping, doc))
    if problems:
        raise PlanError(problems)
    return mapping


def _problems(mapping: Mapping, doc: Document) -> list[Problem]:
    src = doc.source
    spec = mapping.spec
    columns = spec.source.columns
    problems: list[Problem] = []

    def at(path: tuple[str | int, ...], message: str) -> None:
        problems.append(src.problem(path, message))

    if spec.source.key not in columns:
        at(("source", "key"), f"source.key {spec.source.key!r} is not in source.columns")
    op = spec.source.operation
    if op is not None:
        if op.column in columns:
            at(
                ("source", "operation", "column"),
                f"source.operation.column {op.column!r} is a source column; name the change column",
            )
        both = sorted(set(op.delete) & {*op.upsert, ""})
        if both:
            at(
                ("source", "operation", "delete"),
                f"source.operation: {both[0]!r} cannot both delete and upsert",
            )
    if spec.fields is None:
        if spec.target.key != spec.source.key:
            at(("target", "key"), "without `fields`, target.key must be the source key")
        return problems

    fields = spec.fields
    if spec.target.key not in fields:
        at(("target", "key"), f"target.key {spec.target.key!r} is not one of the fields")
    else:
        key_spec = fields[spec.target.key]
        plain = not (
            key_spec.transform
            or key_spec.lookup
            or key_spec.rule
            or key_spec.points
            or key_spec.pattern
        )
        if key_spec.source != spec.source.key or not plain:
            at(
                ("fields", spec.target.key),
                f"the target key must be the source key {spec.source.key!r} unchanged "
                "(a cast is allowed): changes are applied by key",
            )
    for name, field in fields.items():
        path: tuple[str | int, ...] = ("fields", name)
        kind = columns.get(field.source)
        if kind is None:
            at(
                (*path, "from"),
                f"fields.{name}: source column {field.source!r} is not in source.columns",
            )
            continue
        kinds = [k for k in ("lookup", "rule", "points") if getattr(field, k) is not None]
        if len(kinds) > 1:
            at(path, f"fields.{name}: use one of lookup, rule, points, not {' and '.join(kinds)}")
        numeric = kind in ("integer", "cents") or field.cast == "integer"
        if field.points is not None and (field.transform or field.pattern or field.cast):
            at(path, f"fields.{name}: a points field takes no transform, pattern or cast")
        if (
            field.points or field.rule or field.min is not None or field.max is not None
        ) and not numeric:
            at((*path, "from"), f"fields.{name}: {field.source!r} is {kind}; this needs an integer")
        if field.transform and numeric and field.cast != "text":
            at(
                (*path, "transform"),
                f"fields.{name}: transforms apply to text; {field.source!r} is {kind}",
            )
        if field.cast == "integer" and kind == "cents":
            at((*path, "cast"), f"fields.{name}: {field.source!r} is already a number (cents)")
        if field.thresholds is not None and field.rule != "tier":
            at((*path, "thresholds"), f"fields.{name}: thresholds go with rule: tier")
        if field.thresholds is not None and not field.thresholds:
            at((*path, "thresholds"), f"fields.{name}: thresholds need at least one tier")
        if field.default is not None and field.lookup is None:
            at((*path, "default"), f"fields.{name}: default goes with lookup")
        if field.lookup is not None:
            values = [
                *field.lookup.values(),
                *([field.default] if field.default is not None else []),
            ]
            if len({type(v) for v in values}) > 1:
                at(
                    (*path, "lookup"),
                    f"fields.{name}: lookup values must all be text or all integers",
                )
        if field.pattern is not None:
            try:
                re.compile(field.pattern)
            except re.error as exc:
                at((*path, "pattern"), f"fields.{name}: invalid pattern: {exc}")
    wholes = [(n, f.source) for n, f in fields.items() if f.points == "whole"]
    rests = [(n, f.source) for n, f in fields.items() if f.points == "remainder"]
    for kind_name, mine, other in (("whole", wholes, rests), ("remainder", rests, wholes)):
        other_sources = [s for _, s in other]
        for name, source in mine:
            if other_sources.count(source) != 1 or [s for _, s in mine].count(source) != 1:
                missing = "remainder" if kind_name == "whole" else "whole"
                at(
                    ("fields", name, "points"),
                    f"fields.{name}: {source!r} needs exactly one `points: whole` and one "
                    f"`points: remainder` field (the {missing} is missing or doubled): "
                    "the rounding remainder is always carried",
                )
    return problems
