"""Verifying a loaded file feed: every accepted row of the file is in the target, as mapped.

A feed is static, so it is checked by key rather than by range: the last accepted
row of each key in the file, transformed, must equal the target's row with that key
(other keys in the target, from an earlier feed, are not this feed's business); a key
the file deletes last must be absent; every member's points must be conserved to the
cent; and every rejected line must be in the reject record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cutover.migrate.feeds import Feed, deleted_key, reorder
from cutover.migrate.transform import Reject

if TYPE_CHECKING:
    from cutover.migrate.diff import VerifyReport
    from cutover.migrate.migration import Migration

BATCH = 5_000


def verify_feed(m: Migration, checks: Sequence[str]) -> VerifyReport:
    from cutover.migrate.diff import ChunkDiff, RowDiff, VerifyReport, compare_rows
    from cutover.migrate.verification import MAX_ROW_DIFFS

    feed = m.source
    assert isinstance(feed, Feed)
    report = VerifyReport(m.job, list(checks), method="keys")
    order = reorder(feed, m.mapping)
    width = len(feed.header)
    latest: dict[Any, tuple[Any, ...] | None] = {}  # None: deleted
    rejected_lines = 0
    key_at = m.mapping.source_columns.index(m.mapping.source.key)
    for _, fields in feed.rows():
        if len(fields) != width:
            rejected_lines += 1
            continue
        deletes, key = deleted_key(feed, m.mapping, fields)
        if deletes:
            if isinstance(key, Reject):
                rejected_lines += 1
            else:
                latest[key] = None
            continue
        values = [fields[i] for i in order] if order else list(fields)
        out = m.compiled.csv(values)
        if isinstance(out, Reject):
            rejected_lines += 1
            continue
        typed = _typed(m, values)
        latest[m.mapping.target_key(typed[key_at])] = tuple(typed)
    deleted = [k for k, row in latest.items() if row is None]
    for k in deleted:
        del latest[k]
    live: dict[Any, tuple[Any, ...]] = {k: row for k, row in latest.items() if row is not None}
    report.source_rows = len(live)
    report.rejected_rows = rejected_lines
    report.rejects_recorded = m.checkpoints.reject_count()
    keys = list(live)
    kept: list[Any] = []
    for start in range(0, len(deleted), BATCH):
        part = deleted[start : start + BATCH]
        kept += [
            r[0]
            for r in m.target.read_keys(
                m.target_table, [m.mapping.target.key], m.mapping.target.key, part
            )
        ]
    tcols = m.mapping.target_columns
    diffs: list[RowDiff] = []
    members = []
    for start in range(0, len(keys), BATCH):
        part = keys[start : start + BATCH]
        target = m.target.read_keys(m.target_table, tcols, m.mapping.target.key, part)
        report.target_rows += len(target)
        rows, mems = compare_rows(m, [live[k] for k in part], target)
        diffs += rows
        members += mems
        report.chunks += 1
    for pair in m.mapping.points_pairs:
        at = m.mapping.source_columns.index(pair.source)
        report.legacy_cents += sum(row[at] or 0 for row in live.values())
    report.members = len(live) if m.mapping.points_pairs else 0
    report.new_cents = report.legacy_cents - sum(
        (d.legacy_cents or 0) - (d.new_cents or 0) for d in members
    )
    if diffs or members:
        report.mismatched.append(
            ChunkDiff(
                None,
                None,
                len(live),
                report.target_rows,
                diffs[:MAX_ROW_DIFFS],
                members[:MAX_ROW_DIFFS],
            )
        )
    missing = [d for d in diffs if d.kind == "missing"]
    different = [d for d in diffs if d.kind == "different"]
    if "counts" in checks and missing:
        report.problems.append(
            f"counts: {len(missing):,} of the feed's {len(live):,} accepted keys are not in the "
            f"target (first: {missing[0].key!r})"
        )
    if "checksums" in checks and different:
        first = different[0]
        name, (want, got) = next(iter(first.fields.items()))
        report.problems.append(
            f"checksums: {len(different):,} rows differ from the feed (first: key {first.key!r}, "
            f"{name}: expected {want!r}, found {got!r})"
        )
    if "conservation" in checks and members:
        mem = members[0]
        report.problems.append(
            f"conservation: {len(members):,} members do not add up; first: member {mem.key!r} "
            f"feed {mem.legacy_cents} centipoints, target {mem.points} points + "
            f"{mem.remainder_cents} remainder"
        )
    if kept and "counts" in checks:
        report.problems.append(
            f"counts: {len(kept):,} of the {len(deleted):,} keys the feed deletes are still in "
            f"the target (first: {kept[0]!r})"
        )
    if report.rejects_recorded != rejected_lines:
        report.problems.append(
            f"rejects: the feed has {rejected_lines:,} lines that fail cleansing, the reject "
            f"record {report.rejects_recorded:,}"
        )
    return report


def _typed(m: Migration, values: Sequence[str]) -> list[Any]:
    """Feed text as the typed source values the transform's `row` entry point takes."""
    from cutover.migrate.transform import parse_cents, parse_int

    out: list[Any] = []
    for name, value in zip(m.mapping.source_columns, values, strict=True):
        kind = m.mapping.source.columns[name]
        if value == "":
            out.append(None)
        elif kind == "integer":
            out.append(parse_int(value))
        elif kind == "cents":
            out.append(parse_cents(value))
        else:
            out.append(value)
    return out
