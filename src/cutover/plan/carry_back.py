"""Carry-back files (`plans/carry-back/*.yaml`): how a rollback turns new-store rows into legacy rows.

A migrate step's `rollback:` names one. In a rollback, every row the new store took
after the switch is written back to the legacy store with it (`cutover.migrate.carry`):

```yaml
tables:
  - table: members              # in the new store; reverse capture on it
    key: member_id
    to: members                 # in the legacy store
    columns:                    # legacy column: new column, or a computation
      member_id: member_id
      points_cents: {centipoints: [points, remainder_cents]}   # whole * 100 + remainder
  - table: transactions
    key: txn_id
    to: transactions
    columns: same               # every column, as is
```

Loaded with `cutover.plan.loader`, so every problem reads `FILE:LINE: message`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cutover.errors import PlanError, Problem
from cutover.plan.loader import SourceMap, load_yaml, parse_model

Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]


class Centipoints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    centipoints: tuple[Name, Name] = Field(
        description="[whole points column, remainder column]: whole * 100 + remainder"
    )


class CarryTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    table: Name = Field(description="table in the new store (reverse capture goes on it)")
    key: Name
    to: Name = Field(description="table in the legacy store")
    columns: Literal["same"] | dict[Name, Name | Centipoints] = Field(
        description="legacy column -> new column or computation; `same`: every column as is"
    )


class CarryBack(BaseModel):
    """A carry-back file: how each new-store table's rows become legacy rows."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str | None = None
    tables: list[CarryTable] = Field(min_length=1)


def load_carry_back(path: str | Path) -> CarryBack:
    """Load and check a carry-back file; PlanError with every problem as FILE:LINE otherwise."""
    doc = load_yaml(path, kind="carry-back")
    spec = parse_model(doc, CarryBack, what="carry-back file")
    problems = carry_back_problems(spec, doc.source)
    if problems:
        raise PlanError(problems)
    return spec


def carry_back_problems(spec: CarryBack, source: SourceMap) -> list[Problem]:
    """What a well-shaped carry-back file still gets wrong, at the line of the value at fault."""
    problems = []
    first: dict[str, int] = {}
    for i, item in enumerate(spec.tables):
        if item.table in first:
            line = source.line(("tables", first[item.table]))
            problems.append(
                source.problem(
                    ("tables", i, "table"),
                    f"tables[{i}]: table {item.table!r} is carried back twice (first at line {line})",
                )
            )
        first.setdefault(item.table, i)
        if item.columns != "same" and item.key not in item.columns:
            problems.append(
                Problem(
                    source.file,
                    source.key_line(("tables", i, "columns")),
                    f"tables[{i}]: the key {item.key!r} is not among the columns; "
                    "rows are written back by key",
                )
            )
    return problems
