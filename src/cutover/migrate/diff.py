"""Differences between a source and a target, row by row, and the report that carries them.

`compare_rows` transforms source rows with the mapping and compares them with target
rows by key: a row missing, extra, different (with the fields), or kept though it
fails cleansing; and every member whose centipoints do not add up. `VerifyReport` is
what `verify` and the final drain return (and what `VerificationError.report` holds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from cutover.migrate.transform import Reject, parse_cents

if TYPE_CHECKING:
    from cutover.migrate.migration import Migration

ALL_CHECKS = ("counts", "checksums", "conservation")
MAX_ROW_DIFFS = 20
"""Rows listed per differing chunk in the report."""
TargetSums = tuple[int, str | None, int]
"""The target's figures for a chunk's key range: rows, checksum, centipoints."""


@dataclass
class Chunk:
    """One source chunk's figures (and, once compared, the target's)."""

    lo: Any
    hi: Any
    rows: int
    accepted: int
    digest: str | None
    """MD5 over each accepted row's projection and, after `#`, its centipoints, in key order."""
    cents: int
    rejected_keys: list[Any]
    suspects: list[Any] | None = None
    """The source keys of the rows a join found differing (None: not known): the chunk is
    then explained from those rows alone, not read whole."""


@dataclass(frozen=True)
class RowDiff:
    key: Any
    kind: str
    """`missing` (in source, not in target), `extra` (in target only), `different`, `rejected`
    (failed cleansing but present in the target or absent from the rejects)."""
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """column -> (expected from the source, found in the target)."""


@dataclass(frozen=True)
class MemberDiff:
    key: Any
    legacy_cents: int | None
    points: int | None
    remainder_cents: int | None

    @property
    def new_cents(self) -> int | None:
        if self.points is None or self.remainder_cents is None:
            return None
        return self.points * 100 + self.remainder_cents


@dataclass(frozen=True)
class ChunkDiff:
    """A key range (lo, hi] whose checksums differ, with the rows that explain it."""

    lo: Any
    hi: Any
    source_rows: int
    target_rows: int
    rows: list[RowDiff]
    members: list[MemberDiff]


@dataclass
class VerifyReport:
    """The outcome of a verification; `ok` is False on any difference."""

    job: str
    checks: list[str]
    source_rows: int = 0
    """Source rows that pass cleansing (what the target must hold)."""
    target_rows: int = 0
    rejected_rows: int = 0
    """Source rows that fail cleansing."""
    rejects_recorded: int = 0
    chunks: int = 0
    members: int = 0
    legacy_cents: int = 0
    new_cents: int = 0
    pending_changes: int = 0
    """Changelog entries not yet applied when verification ran."""
    mismatched: list[ChunkDiff] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    method: str = "sql"
    """How the rows were compared: `join` (one statement reads both tables), `sql`
    (chunk checksums computed by each store), `python` (checksums computed here), `keys`
    (a file feed: its rows looked up by key)."""
    note: str | None = None
    """How to read the figures (the final drain's come from its pre-pass)."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def rows_per_s(self) -> float:
        return (self.source_rows + self.rejected_rows) / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        status = "ok" if self.ok else f"FAILED ({len(self.problems)} problems)"
        how = {
            "join": "joined",
            "sql": "checksums",
            "python": "checksums in Python",
            "keys": "by key",
        }.get(self.method, self.method)
        line = (
            f"verify {self.job}: {status} — {self.source_rows:,} rows, {self.chunks} chunks "
            f"({how}), {self.rejected_rows:,} rejected"
        )
        if self.ok and "conservation" in self.checks and self.members:
            line += f", {self.members:,} members conserved to the cent ({self.legacy_cents:,} centipoints)"
        if self.note:
            line += f" ({self.note})"
        return line

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["rows_per_s"] = self.rows_per_s
        return data


def compare_rows(
    m: Migration,
    source_rows: Sequence[tuple[Any, ...]],
    target_rows: Sequence[tuple[Any, ...]],
    rejected: set[Any] | None = None,
) -> tuple[list[RowDiff], list[MemberDiff]]:
    """Row-by-row differences between source rows (transformed here) and target rows."""
    mp = m.mapping
    key_at = mp.source_columns.index(mp.source.key)
    tkey_at = mp.target_columns.index(mp.target.key)
    want: dict[Any, tuple[Any, ...]] = {}
    legacy: dict[Any, list[int | None]] = {}
    reject_keys = set(rejected or ())
    for row in source_rows:
        out = m.compiled.row(row)
        tkey = mp.target_key(row[key_at])
        if isinstance(out, Reject):
            reject_keys.add(tkey)
            continue
        want[tkey] = out
        legacy[tkey] = [cents_of(row[mp.source_columns.index(p.source)]) for p in mp.points_pairs]
    have = {row[tkey_at]: row for row in target_rows}
    diffs: list[RowDiff] = []
    members: list[MemberDiff] = []
    for key in sorted(set(want) | set(have) | (reject_keys & set(have)), key=_sort_key):
        expected, found = want.get(key), have.get(key)
        if key in reject_keys and found is not None:
            diffs.append(RowDiff(key, "rejected"))
            continue
        if found is None:
            if expected is not None:
                diffs.append(RowDiff(key, "missing"))
            continue
        if expected is None:
            diffs.append(RowDiff(key, "extra"))
            continue
        if tuple(expected) != tuple(found):
            fields = {
                name: (e, f)
                for name, e, f in zip(mp.target_columns, expected, found, strict=True)
                if e != f
            }
            diffs.append(RowDiff(key, "different", fields))
        for pair, cents in zip(mp.points_pairs, legacy.get(key, []), strict=False):
            whole = found[mp.target_columns.index(pair.whole)]
            rest = found[mp.target_columns.index(pair.remainder)]
            new = None if whole is None or rest is None else whole * 100 + rest
            if new != cents:
                members.append(MemberDiff(key, cents, whole, rest))
    return diffs, members


def cents_of(value: Any) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return parse_cents(str(value))


def _sort_key(key: Any) -> tuple[int, Any]:
    return (0, key) if isinstance(key, int) else (1, str(key))
