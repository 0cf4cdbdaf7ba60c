"""A gap analysis report: what a mapping does to a sample of the data, for those who sign it.

`cutover mapping check` fills one (`cutover.migrate.gap_analysis`) and prints it
(`cutover.migrate.gap_render`). It answers the questions of a mapping sign-off: is
every source field mapped, dropped or renamed; is every target column filled,
defaulted or left empty; which rows the cleansing rules reject, how many and which;
are the points conserved to the centipoint, and what remainder is carried; which
values do not fit their type or range. `gaps()` lists what `--strict` fails on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FieldStatus = Literal["mapped", "renamed", "unmapped", "not in the mapping", "missing", "change"]
Group = Literal["cleansing", "type", "range", "layout"]

EXAMPLES = 3
"""Example keys kept per reject rule (and for duplicate keys)."""
INT64 = (-(2**63), 2**63 - 1)
"""What an integer column holds in SQLite and in a PostgreSQL bigint."""


def rows(count: int) -> str:
    """`1 row`, `2,500 rows`."""
    return f"{count:,} row{'' if count == 1 else 's'}"


@dataclass
class SourceField:
    """One column of the source (the mapping's `source.columns` and the sample's header)."""

    name: str
    status: FieldStatus
    declared: str | None
    """The mapping's type for it (None: not in source.columns)."""
    targets: list[str] = field(default_factory=list)
    """The target columns made from it."""

    @property
    def is_gap(self) -> bool:
        return self.status in ("unmapped", "not in the mapping", "missing")


@dataclass
class TargetColumn:
    """One target column, over the rows the mapping accepts."""

    name: str
    source: str
    kind: str
    filled: int = 0
    empty: int = 0
    defaulted: int = 0
    """Rows where the lookup's `default` was used (the source value was not listed)."""
    low: int | None = None
    high: int | None = None
    values: dict[str, int] | None = None
    """How often each value occurs, for columns made of a few constants (lookup, tier)."""

    @property
    def status(self) -> str:
        if self.filled == 0:
            return "empty" if self.empty else "no rows"
        if self.empty:
            return "partly empty"
        return "defaulted" if self.defaulted else "filled"


@dataclass
class RuleCount:
    """The rows one rule rejects."""

    rule: str
    group: Group
    rows: int = 0
    examples: list[str] = field(default_factory=list)
    """`key 1042 (line 7)`: the first few rejected rows."""


@dataclass
class Remainders:
    """A centipoint column split into whole points and the carried remainder."""

    source: str
    whole: str
    remainder: str
    rounding: str
    rows: int = 0
    legacy_cents: int = 0
    whole_points: int = 0
    remainder_cents: int = 0
    with_remainder: int = 0
    """Rows whose remainder is not 0."""
    low: int | None = None
    high: int | None = None

    @property
    def conserved(self) -> bool:
        return self.legacy_cents == self.whole_points * 100 + self.remainder_cents


@dataclass
class GapReport:
    """Everything `cutover mapping check` found."""

    mapping: str
    sample: str
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    deletes: int = 0
    duplicate_keys: int = 0
    duplicate_examples: list[str] = field(default_factory=list)
    fields: list[SourceField] = field(default_factory=list)
    targets: list[TargetColumn] = field(default_factory=list)
    rejects: list[RuleCount] = field(default_factory=list)
    remainders: list[Remainders] = field(default_factory=list)
    clashes: list[str] = field(default_factory=list)
    """Type clashes found without rejecting a row: a store column's type, a value too large."""
    seconds: float = 0.0

    def gaps(self) -> list[str]:
        """What a reviewer must resolve before signing (what `--strict` exits 1 on)."""
        out = [f"source field {f.name!r}: {f.status}" for f in self.fields if f.is_gap]
        out += [f"target column {t.name!r}: empty" for t in self.targets if t.status == "empty"]
        out += [f"{rows(r.rows)} rejected: {r.rule}" for r in self.rejects]
        out += [
            f"points from {r.source!r} are not conserved"
            for r in self.remainders
            if not r.conserved
        ]
        out += self.clashes
        if self.duplicate_keys:
            out.append(f"{rows(self.duplicate_keys)} repeat a key (the last one wins)")
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for target, row in zip(self.targets, data["targets"], strict=True):
            row["status"] = target.status
        for pair, row in zip(self.remainders, data["remainders"], strict=True):
            row["conserved"] = pair.conserved
        data["gaps"] = self.gaps()
        data["seconds"] = round(self.seconds, 3)
        return data
