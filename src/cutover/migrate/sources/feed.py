"""A CSV file feed as a source: loaded in file order, verified by key.

Loading: a sample file, a full feed and a delta file are each their own job (the job
id carries the file's name and fingerprint). Rows are upserted by key, so the full
feed may land on top of the sample and the delta on top of the full feed; within a
chunk the last row for a key wins, as it would row by row, and a delete (a delta
file's change column, `feeds.deleted_key`) removes the key. A row that fails
cleansing is recorded with its line number and reason and changes nothing in the
target.

Verifying: a feed is static, so it is checked by key rather than by range: the last
accepted row of each key in the file, transformed, must equal the target's row with
that key (other keys in the target, from an earlier feed, are not this feed's
business); a key the file deletes last must be absent; every member's points must be
conserved to the cent; and every rejected line must be in the reject record.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from cutover.logs import get_logger
from cutover.migrate.diff import (
    MAX_ROW_DIFFS,
    ChunkDiff,
    MemberDiff,
    RowDiff,
    VerifyReport,
    compare_rows,
)
from cutover.migrate.feeds import Feed, Record, deleted_key, reorder
from cutover.migrate.migration import Migration
from cutover.migrate.progress import Progress, ProgressFn, Rate, eta
from cutover.migrate.sources.base import CopyOptions, CopyReport, Source
from cutover.migrate.transform import Reject, parse_cents, parse_int

log = get_logger("cutover.migrate.feed")

BATCH = 5_000
"""Keys looked up in the target at a time when verifying."""

Rejected = tuple[Any, str, dict[str, Any]]


class FeedSource(Source):
    """A CSV feed file (a sample, a full feed or a delta)."""

    def copy(self, m: Migration, options: CopyOptions) -> CopyReport:
        """Load (or resume loading) a feed into the target."""
        feed = m.source
        assert isinstance(feed, Feed)
        started = time.monotonic()
        existing = m.checkpoints.load()
        m.prepare(capture=False)
        state = existing or m.checkpoints.create(0, "python")
        if not state.copy_done:
            slices = m.checkpoints.slices() or m.checkpoints.plan_slices([None, None])
            _load(m, feed, slices[0].last or 0, options.chunk_rows, options.progress)
            m.checkpoints.finish_copy()
        s = m.checkpoints.slices()[0]
        seconds = time.monotonic() - started
        written = None
        if options.rejects is not None:
            m.checkpoints.export_rejects(options.rejects, key_name="line")
            written = str(options.rejects)
        log.info(
            "feed_loaded", job=m.job, rows=s.rows, rejected=s.rejected, seconds=round(seconds, 3)
        )
        return CopyReport(
            m.job,
            "python",
            m.path_reason,
            s.rows,
            s.rejected,
            seconds,
            s.rows / seconds if seconds > 0 else 0.0,
            1,
            existing is not None,
            0,
            written,
        )

    def verify(self, m: Migration, checks: Sequence[str], chunk_rows: int) -> VerifyReport:
        feed = m.source
        assert isinstance(feed, Feed)
        report = VerifyReport(m.job, list(checks), method="keys")
        live, deleted, rejected_lines, read = _latest(m, feed)
        slices = m.checkpoints.slices()
        lines, loaded = feed.count(), (slices[0].last or 0) if slices else 0
        if not read == loaded == lines:
            report.problems.append(
                f"lines: the file has {lines:,} lines after its header (counted by their "
                f"newlines), the load accounted for {loaded:,}, this check read {read:,}"
            )
        report.source_rows = len(live)
        report.rejected_rows = rejected_lines
        report.rejects_recorded = m.checkpoints.reject_count()
        kept = _still_there(m, deleted)
        diffs, members = _compare(m, live, report)
        _problems(report, checks, len(live), len(deleted), diffs, members, kept, rejected_lines)
        return report


# ------------------------------------------------------------------- loading


class _Loader:
    """Writes a feed's lines chunk by chunk, each with its checkpoint."""

    def __init__(self, m: Migration, feed: Feed, consumed: int) -> None:
        self.m, self.feed, self.consumed = m, feed, consumed
        self.order = reorder(feed, m.mapping)
        self.key_at = m.mapping.target_columns.index(m.mapping.target.key)
        self.types = list(m.mapping.output_types.values())
        self.batch: list[tuple[int, Record]] = []
        self.first_line: dict[Any, int] | None = None if feed.delta else {}
        """A full feed's keys and the line each was first accepted on."""
        if self.first_line is not None and consumed:
            for line_no, record in feed.rows():
                if line_no - 2 >= consumed:  # line 2 is the first after the header
                    break
                _accept(m, feed, self.order, self.key_at, self.first_line, line_no, record)

    def _sort(self) -> tuple[dict[Any, tuple[Any, ...] | None], list[Rejected]]:
        """The batch's last row per key (None: the key is deleted) and its rejected lines."""
        m, feed, header = self.m, self.feed, self.feed.header
        good: dict[Any, tuple[Any, ...] | None] = {}
        rejected: list[Rejected] = []
        for line_no, record in self.batch:
            outcome = _accept(m, feed, self.order, self.key_at, self.first_line, line_no, record)
            if isinstance(outcome, Reject):
                fields = record if isinstance(record, list) else []
                rejected.append((line_no, str(outcome), dict(zip(header, fields, strict=False))))
            else:
                key, row = outcome
                good[key] = row
        return good, rejected

    def flush(self, final: bool) -> None:
        m, consumed = self.m, self.consumed
        key_name = m.mapping.target.key
        good, rejected = self._sort()
        # a chunk's upserts and deletes touch distinct keys (the last line per key won)
        upserts = [row for row in good.values() if row is not None]
        deletes = [key for key, row in good.items() if row is None]
        with m.target.transaction():
            if not m.checkpoints.claim(0, consumed or None):
                raise m.target.fail("another process is loading this feed; let it finish")
            m.target.upsert_rows(
                m.target_table, m.mapping.target_columns, self.types, key_name, upserts
            )
            m.target.delete_keys(m.target_table, key_name, deletes)
            m.checkpoints.add_rejects(rejected)
            m.checkpoints.advance(0, consumed + len(self.batch), len(good), len(rejected), final)
        self.consumed += len(self.batch)
        self.batch.clear()


def _load(
    m: Migration, feed: Feed, consumed: int, chunk_rows: int, progress: ProgressFn | None
) -> None:
    loader = _Loader(m, feed, consumed)
    batch = loader.batch
    total = feed.count() if progress else None
    rate = Rate()
    for line_no, fields in feed.rows(consumed):
        batch.append((line_no, fields))
        if len(batch) >= chunk_rows:
            loader.flush(False)
            if progress:
                done = loader.consumed
                speed = rate.add(done)
                progress(Progress("copy", "python", done, total, speed, eta(done, total, speed)))
    loader.flush(True)
    if progress:
        done = loader.consumed
        progress(Progress("copy", "python", done, total, rate.add(done), 0.0))


# ----------------------------------------------------------------- verifying


def _latest(m: Migration, feed: Feed) -> tuple[dict[Any, tuple[Any, ...]], list[Any], int, int]:
    """The feed's last accepted row per key (typed), the keys it deletes last, the number
    of lines that are rejected, and the number of lines read."""
    order = reorder(feed, m.mapping)
    key_at = m.mapping.target_columns.index(m.mapping.target.key)
    first_line: dict[Any, int] | None = None if feed.delta else {}
    latest: dict[Any, tuple[Any, ...] | None] = {}  # None: deleted
    rejected_lines = lines = 0
    for lines, (line_no, record) in enumerate(feed.rows(), 1):  # noqa: B007 (kept after)
        outcome = _accept(m, feed, order, key_at, first_line, line_no, record)
        if isinstance(outcome, Reject):
            rejected_lines += 1
            continue
        key, row = outcome
        if row is None:
            latest[key] = None
            continue
        assert isinstance(record, list)
        values = [record[i] for i in order] if order else list(record)
        latest[key] = tuple(_typed(m, values))
    deleted = [k for k, row in latest.items() if row is None]
    live = {k: row for k, row in latest.items() if row is not None}
    return live, deleted, rejected_lines, lines


def _accept(
    m: Migration,
    feed: Feed,
    order: list[int] | None,
    key_at: int,
    first_line: dict[Any, int] | None,
    line_no: int,
    record: Record,
) -> tuple[Any, tuple[Any, ...] | None] | Reject:
    """One line as (target key, transformed row, or None for a delete), or why it is
    rejected; `first_line` (a full feed's) records each accepted key's line."""
    if isinstance(record, Reject):
        return record
    width = len(feed.header)
    if len(record) != width:
        return Reject(f"the line has {len(record)} fields, the header {width}")
    is_delete, key = deleted_key(feed, m.mapping, record)
    if is_delete:
        return key if isinstance(key, Reject) else (key, None)
    values = [record[i] for i in order] if order else record
    result = m.compiled.csv(values)
    if isinstance(result, Reject):
        return result
    key = result[key_at]
    if first_line is not None:
        first = first_line.setdefault(key, line_no)
        if first != line_no:
            return Reject(
                f"{m.mapping.target.key} {key!r} is on line {first} too "
                "(a full feed has one line per key; a delta: `feed: delta`)"
            )
    return key, result


def _still_there(m: Migration, deleted: list[Any]) -> list[Any]:
    """The keys the feed deletes that the target still has."""
    kept: list[Any] = []
    key = m.mapping.target.key
    for start in range(0, len(deleted), BATCH):
        part = deleted[start : start + BATCH]
        kept += [r[0] for r in m.target.read_keys(m.target_table, [key], key, part)]
    return kept


def _compare(
    m: Migration, live: dict[Any, tuple[Any, ...]], report: VerifyReport
) -> tuple[list[RowDiff], list[MemberDiff]]:
    """The live keys' target rows compared with the feed's; fills in the report's totals."""
    keys = list(live)
    tcols = m.mapping.target_columns
    diffs: list[RowDiff] = []
    members: list[MemberDiff] = []
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
    return diffs, members


def _problems(
    report: VerifyReport,
    checks: Sequence[str],
    live: int,
    deleted: int,
    diffs: list[RowDiff],
    members: list[MemberDiff],
    kept: list[Any],
    rejected_lines: int,
) -> None:
    missing = [d for d in diffs if d.kind == "missing"]
    different = [d for d in diffs if d.kind == "different"]
    if "counts" in checks and missing:
        report.problems.append(
            f"counts: {len(missing):,} of the feed's {live:,} accepted keys are not in the "
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
            f"counts: {len(kept):,} of the {deleted:,} keys the feed deletes are still in "
            f"the target (first: {kept[0]!r})"
        )
    if report.rejects_recorded != rejected_lines:
        report.problems.append(
            f"rejects: the feed has {rejected_lines:,} lines that fail cleansing, the reject "
            f"record {report.rejects_recorded:,}"
        )


def _typed(m: Migration, values: Sequence[str]) -> list[Any]:
    """Feed text as the typed source values the transform's `row` entry point takes."""
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
