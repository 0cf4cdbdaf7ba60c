"""Counting a sample's rows as the mapping's transform answers them, part by part.

A `GapCounter` runs the mapping compiled by `python_transform` (the migrate step's
code) and keeps the figures of a gap report: rejects by rule with a few example keys,
NULLs, lookup defaults, ranges, constants, the points and remainders, repeated keys.
A big sample is counted in parts, each by its own counter (possibly in another
process); `partial()` and `merge()` put the parts together in file order.

Lookup defaults are seen without a second reading of the mapping: it is compiled once
with each `default` replaced by a marker object, so a marker in the output is a
default the real mapping would have used (a default never rejects: the accepted rows
are the same).
"""

from __future__ import annotations

import gc
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cutover.migrate.gaps import (
    EXAMPLES,
    INT64,
    FieldStatus,
    GapReport,
    Group,
    Remainders,
    RuleCount,
    SourceField,
    TargetColumn,
)
from cutover.migrate.mapping import Mapping
from cutover.migrate.python_transform import Compiled, compile_python
from cutover.migrate.transform import parse_cents, parse_int

BATCH = 20_000
"""Accepted rows counted at a time (column by column)."""

_VALUE = re.compile(r"^(?:'(?:[^']|'')*'|-?\d+) ")
"""The value a reject reason quotes after `field: `, dropped to name the rule."""


@dataclass
class Partial:
    """What one counter found: its report's figures, its reject rules, the keys it saw."""

    report: GapReport
    rules: dict[str, RuleCount]
    seen: set[Any]


def _span(
    low: int | None, high: int | None, lo: int | None, hi: int | None
) -> tuple[int | None, int | None]:
    """Two ranges as one (None: no value yet)."""
    return (
        lo if low is None else low if lo is None else min(low, lo),
        hi if high is None else high if hi is None else max(high, hi),
    )


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector paused: the loop makes millions of short-lived rows and
    no cycles, and the collector's passes over them cost a third of the time (measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Marker:
    """A lookup default as the analysis sees it: a value no row can produce."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


def marked_defaults(mapping: Mapping) -> tuple[Mapping, dict[str, _Marker]]:
    """The mapping with each lookup default replaced by a marker (same rules otherwise)."""
    markers: dict[str, _Marker] = {}
    fields = {}
    for name, spec in mapping.fields.items():
        if spec.default is not None:
            markers[name] = _Marker(spec.default)
            spec = spec.model_copy(update={"default": markers[name]})
        fields[name] = spec
    if not markers:
        return mapping, markers
    return Mapping(
        mapping.name, mapping.path, mapping.spec.model_copy(update={"fields": fields})
    ), markers


class GapCounter:
    """Counts a sample's rows (or one part of them) as the transform answers them."""

    def __init__(self, mapping: Mapping, report: GapReport) -> None:
        self.mapping, self.report = mapping, report
        marked, self.markers = marked_defaults(mapping)
        self.compiled: Compiled = compile_python(marked)
        self.key_at = mapping.target_columns.index(mapping.target.key)
        self.rules: dict[str, RuleCount] = {}
        self.from_text = False
        """Source values are a feed's text (else a store's typed values)."""
        self.seen: set[Any] = set()
        self.batch: list[tuple[Any, ...]] = []
        self.sources: list[Sequence[Any]] = []
        self.pairs = [
            (
                mapping.source_columns.index(p.source),
                Remainders(p.source, p.whole, p.remainder, mapping.rounding),
            )
            for p in mapping.points_pairs
        ]
        report.remainders = [pair for _, pair in self.pairs]
        few = {n for n, s in mapping.fields.items() if s.lookup is not None or s.rule == "tier"}
        report.targets = [
            TargetColumn(n, s.source, kind, values={} if n in few else None)
            for (n, s), kind in zip(
                mapping.fields.items(), mapping.output_types.values(), strict=True
            )
        ]

    def reject(self, reason: str, key: object, line: int | None) -> None:
        self.report.rejected += 1
        rule, group = rule_of(reason)
        count = self.rules.get(rule)
        if count is None:
            count = self.rules[rule] = RuleCount(rule, group)
        count.rows += 1
        if len(count.examples) < EXAMPLES:
            where = f" (line {line})" if line is not None else ""
            count.examples.append(
                f"key {key!r}{where}" if key not in (None, "") else f"no key{where}"
            )

    def flush(self) -> None:
        if not self.batch:
            return
        batch, sources = self.batch[:], self.sources[:]
        self.batch.clear()
        self.sources.clear()
        self.report.accepted += len(batch)
        self._keys([row[self.key_at] for row in batch])
        columns = list(zip(*batch, strict=True))
        for target, column in zip(self.report.targets, columns, strict=True):
            self._column(target, list(column))
        for at, pair in self.pairs:
            self._points(pair, [src[at] for src in sources], columns)

    def _keys(self, keys: list[Any]) -> None:
        distinct = set(keys)
        earlier = distinct & self.seen
        repeats = len(keys) - len(distinct) + len(earlier)
        self.seen |= distinct
        if not repeats:
            return
        self.report.duplicate_keys += repeats
        shown = self.report.duplicate_examples
        twice = [k for k, n in Counter(keys).items() if n > 1] if len(distinct) < len(keys) else []
        for key in [*sorted(earlier, key=str), *twice]:
            if len(shown) >= EXAMPLES:
                break
            if f"key {key!r}" not in shown:
                shown.append(f"key {key!r}")

    def _column(self, target: TargetColumn, column: list[Any]) -> None:
        marker = self.markers.get(target.name)
        if marker is not None:
            used = column.count(marker)
            if used:
                target.defaulted += used
                column = [marker.value if v is marker else v for v in column]
        empty = column.count(None)
        target.empty += empty
        target.filled += len(column) - empty
        values = [v for v in column if v is not None] if empty else column
        if target.values is not None:
            for value, n in Counter(values).items():
                target.values[str(value)] = target.values.get(str(value), 0) + n
        if target.kind == "integer" and values:
            target.low, target.high = _span(target.low, target.high, min(values), max(values))

    def _points(self, pair: Remainders, legacy: list[Any], columns: list[tuple[Any, ...]]) -> None:
        names = self.mapping.target_columns
        whole = columns[names.index(pair.whole)]
        rest = columns[names.index(pair.remainder)]
        kind = self.mapping.source.columns[pair.source]
        parse = parse_cents if kind == "cents" else parse_int
        if self.from_text:  # a feed's fields (an empty one reads as None)
            values = list(map(parse, legacy))
        else:
            values = [v if v is None or v.__class__ is int else parse(str(v)) for v in legacy]
        pair.rows += len(values) - values.count(None)
        pair.legacy_cents += sum(v for v in values if v is not None)
        pair.whole_points += sum(v for v in whole if v is not None)
        present = [v for v in rest if v is not None]
        pair.remainder_cents += sum(present)
        pair.with_remainder += len(present) - present.count(0)
        if present:
            pair.low, pair.high = _span(pair.low, pair.high, min(present), max(present))

    def partial(self) -> Partial:
        """What this counter found, to send to the process that merges the parts."""
        self.flush()
        return Partial(self.report, self.rules, self.seen)

    def merge(self, later: Partial) -> None:
        """Add what a counter of the rows after these found (rows, rules, keys, totals)."""
        mine, theirs = self.report, later.report
        for name in ("rows", "accepted", "rejected", "deletes", "duplicate_keys"):
            setattr(mine, name, getattr(mine, name) + getattr(theirs, name))
        both = self.seen & later.seen
        mine.duplicate_keys += len(both)
        for shown in [*theirs.duplicate_examples, *(f"key {k!r}" for k in sorted(both, key=str))]:
            if len(mine.duplicate_examples) < EXAMPLES and shown not in mine.duplicate_examples:
                mine.duplicate_examples.append(shown)
        self.seen |= later.seen
        for rule, count in later.rules.items():
            into = self.rules.setdefault(rule, RuleCount(rule, count.group))
            into.rows += count.rows
            into.examples = (into.examples + count.examples)[:EXAMPLES]
        for target, other in zip(mine.targets, theirs.targets, strict=True):
            target.filled += other.filled
            target.empty += other.empty
            target.defaulted += other.defaulted
            target.low, target.high = _span(target.low, target.high, other.low, other.high)
            if target.values is not None and other.values is not None:
                for value, n in other.values.items():
                    target.values[value] = target.values.get(value, 0) + n
        for pair, more in zip(mine.remainders, theirs.remainders, strict=True):
            for name in (
                "rows",
                "legacy_cents",
                "whole_points",
                "remainder_cents",
                "with_remainder",
            ):
                setattr(pair, name, getattr(pair, name) + getattr(more, name))
            pair.low, pair.high = _span(pair.low, pair.high, more.low, more.high)

    def finish(self, started: float) -> GapReport:
        self.flush()
        report = self.report
        report.rejects = sorted(self.rules.values(), key=lambda r: (-r.rows, r.rule))
        for target in report.targets:
            low, high = target.low, target.high
            if low is not None and high is not None and (low < INT64[0] or high > INT64[1]):
                report.clashes.append(
                    f"target column {target.name!r}: values from {low} to {high} do not "
                    "fit a 64-bit integer column"
                )
        for pair in report.remainders:
            if pair.low is not None and pair.high is not None and (pair.low < 0 or pair.high > 99):
                report.clashes.append(
                    f"target column {pair.remainder!r}: remainders from {pair.low} to "
                    f"{pair.high} under rounding {pair.rounding} (0 to 99 under floor)"
                )
        report.seconds = time.monotonic() - started
        return report


def rule_of(reason: str) -> tuple[str, Group]:
    """The rule behind a transform's reject reason (its quoted value dropped) and its group."""
    name, sep, rest = reason.partition(": ")
    if not sep or " " in name:
        if "fields, the header" in reason:
            return "a line with the wrong number of fields", "layout"
        return reason, "type"
    rest = _VALUE.sub("", rest, count=1)
    if "neither an upsert" in rest:
        return f"{name}: not a known change code", "layout"
    if rest.startswith(("is not an integer", "is not a number")):
        return f"{name}: {rest.removeprefix('is ')}", "type"
    if rest.startswith(("is below", "is above")):
        return f"{name}: {rest.removeprefix('is ')}", "range"
    return f"{name}: {rest.removeprefix('is ')}", "cleansing"


def source_fields(
    mapping: Mapping, present: Iterable[str], change: str | None
) -> list[SourceField]:
    """Every column of the mapping's source and of the sample, with what becomes of it."""
    present = list(present)
    declared = mapping.source.columns
    made: dict[str, list[str]] = {}
    for target, spec in mapping.fields.items():
        made.setdefault(spec.source, []).append(target)
    out: list[SourceField] = []
    for name, kind in declared.items():
        targets = made.get(name, [])
        status: FieldStatus
        if name not in present:
            status = "missing"
        elif not targets:
            status = "unmapped"
        else:
            status = "mapped" if name in targets else "renamed"
        out.append(SourceField(name, status, kind, targets))
    for name in present:
        if name not in declared:
            out.append(
                SourceField(name, "change" if name == change else "not in the mapping", None)
            )
    return out
