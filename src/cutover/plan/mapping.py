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

`load_mapping_file` parses one (with `cutover.plan.loader`, so every problem reads
`FILE:LINE: message`) and runs the checks that need nothing but the file; `load_plan`
does it for every file a plan names. `cutover.migrate` compiles the result into its
runtime `Mapping`. Whole points never come without their remainder column: the carry
is never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from cutover.errors import PlanError, Problem
from cutover.plan.loader import SourceMap, load_yaml, parse_model

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

PathKey = tuple[str | int, ...]


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
    """The document as written (validated shape); `mapping_problems` adds the cross-checks."""

    description: str | None = None
    source: SourceSpec
    target: TargetSpec
    rounding: Rounding = Field(
        default="floor", description="how centipoints become whole points; the remainder is carried"
    )
    fields: Annotated[dict[Name, FieldSpec] | None, BeforeValidator(_shorthand)] = Field(
        default=None, description="target column -> spec; omitted: every source column unchanged"
    )


@dataclass(frozen=True, eq=False)
class LoadedMapping:
    """A mapping file parsed and checked: its content, where it came from, every value's line.

    Compared and hashed by identity: one object per file a plan names, so the data
    plane can cache what it derives from it.
    """

    spec: MappingFile
    path: Path
    source: SourceMap

    @property
    def name(self) -> str:
        """The file's stem (`members` for `mappings/members.yaml`): part of the job id."""
        return self.path.stem


def load_mapping_file(path: str | Path) -> LoadedMapping:
    """Load and check a mapping file; PlanError with every problem as FILE:LINE otherwise."""
    doc = load_yaml(path, kind="mapping")
    spec = parse_model(doc, MappingFile, what="mapping file")
    problems = mapping_problems(spec, doc.source)
    if problems:
        raise PlanError(problems)
    return LoadedMapping(spec, Path(path), doc.source)


def mapping_problems(spec: MappingFile, source: SourceMap) -> list[Problem]:
    """What a well-shaped mapping file still gets wrong, each at the line of the value at fault."""
    found = [*_source_problems(spec)]
    if spec.fields is None:
        if spec.target.key != spec.source.key:
            found.append((("target", "key"), "without `fields`, target.key must be the source key"))
    else:
        found += _key_problems(spec, spec.fields)
        for name, field in spec.fields.items():
            found += _field_problems(name, field, spec.source.columns)
        found += _points_problems(spec.fields)
    return [source.problem(path, message) for path, message in found]


def _source_problems(spec: MappingFile) -> Iterator[tuple[PathKey, str]]:
    columns = spec.source.columns
    if spec.source.key not in columns:
        yield ("source", "key"), f"source.key {spec.source.key!r} is not in source.columns"
    op = spec.source.operation
    if op is None:
        return
    if op.column in columns:
        yield (
            ("source", "operation", "column"),
            f"source.operation.column {op.column!r} is a source column; name the change column",
        )
    both = sorted(set(op.delete) & {*op.upsert, ""})
    if both:
        yield (
            ("source", "operation", "delete"),
            f"source.operation: {both[0]!r} cannot both delete and upsert",
        )


def _key_problems(spec: MappingFile, fields: dict[str, FieldSpec]) -> Iterator[tuple[PathKey, str]]:
    key = spec.target.key
    if key not in fields:
        yield ("target", "key"), f"target.key {key!r} is not one of the fields"
        return
    key_spec = fields[key]
    plain = not (
        key_spec.transform
        or key_spec.lookup
        or key_spec.rule
        or key_spec.points
        or key_spec.pattern
    )
    if key_spec.source != spec.source.key or not plain:
        yield (
            ("fields", key),
            f"the target key must be the source key {spec.source.key!r} unchanged "
            "(a cast is allowed): changes are applied by key",
        )


def _field_problems(
    name: str, field: FieldSpec, columns: dict[str, SourceType]
) -> Iterator[tuple[PathKey, str]]:
    path: PathKey = ("fields", name)
    kind = columns.get(field.source)
    if kind is None:
        yield (
            (*path, "from"),
            f"fields.{name}: source column {field.source!r} is not in source.columns",
        )
        return
    kinds = [k for k in ("lookup", "rule", "points") if getattr(field, k) is not None]
    if len(kinds) > 1:
        yield path, f"fields.{name}: use one of lookup, rule, points, not {' and '.join(kinds)}"
    numeric = kind in ("integer", "cents") or field.cast == "integer"
    if field.points is not None and (field.transform or field.pattern or field.cast):
        yield path, f"fields.{name}: a points field takes no transform, pattern or cast"
    needs_number = field.points or field.rule or field.min is not None or field.max is not None
    if needs_number and not numeric:
        yield (*path, "from"), f"fields.{name}: {field.source!r} is {kind}; this needs an integer"
    if field.transform and numeric and field.cast != "text":
        yield (
            (*path, "transform"),
            f"fields.{name}: transforms apply to text; {field.source!r} is {kind}",
        )
    if field.cast == "integer" and kind == "cents":
        yield (*path, "cast"), f"fields.{name}: {field.source!r} is already a number (cents)"
    yield from _value_problems(name, field)


def _value_problems(name: str, field: FieldSpec) -> Iterator[tuple[PathKey, str]]:
    path: PathKey = ("fields", name)
    if field.thresholds is not None and field.rule != "tier":
        yield (*path, "thresholds"), f"fields.{name}: thresholds go with rule: tier"
    if field.thresholds is not None and not field.thresholds:
        yield (*path, "thresholds"), f"fields.{name}: thresholds need at least one tier"
    if field.default is not None and field.lookup is None:
        yield (*path, "default"), f"fields.{name}: default goes with lookup"
    if field.lookup is not None:
        values = [*field.lookup.values(), *([field.default] if field.default is not None else [])]
        if len({type(v) for v in values}) > 1:
            yield (
                (*path, "lookup"),
                f"fields.{name}: lookup values must all be text or all integers",
            )
    if field.pattern is not None:
        try:
            re.compile(field.pattern)
        except re.error as exc:
            yield (*path, "pattern"), f"fields.{name}: invalid pattern: {exc}"


def _points_problems(fields: dict[str, FieldSpec]) -> Iterator[tuple[PathKey, str]]:
    wholes = [(n, f.source) for n, f in fields.items() if f.points == "whole"]
    rests = [(n, f.source) for n, f in fields.items() if f.points == "remainder"]
    for kind_name, mine, other in (("whole", wholes, rests), ("remainder", rests, wholes)):
        other_sources = [s for _, s in other]
        for name, source in mine:
            if other_sources.count(source) != 1 or [s for _, s in mine].count(source) != 1:
                missing = "remainder" if kind_name == "whole" else "whole"
                yield (
                    ("fields", name, "points"),
                    f"fields.{name}: {source!r} needs exactly one `points: whole` and one "
                    f"`points: remainder` field (the {missing} is missing or doubled): "
                    "the rounding remainder is always carried",
                )
