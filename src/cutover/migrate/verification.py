"""Verification: counts, chunked checksums of the transformed projection, conservation.

The source is cut into key-ordered chunks; for each, both sides compute (in SQL
where they can, in parallel on their own connections) the row count, the sum of
centipoints, and one MD5 over every row's text in key order: the transformed
projection, then each member's centipoints: the legacy balance on the source,
`points * 100 + remainder` on the target. Equal hashes prove every row and every
member's balance equal to the cent; a differing chunk names its key range and is then
compared row by row, so the report lists the members and fields that differ. Rows that
fail cleansing must be in the rejects and absent from the target. Any difference is a
`VerificationError`.

When one statement can read both tables (one PostgreSQL database, or SQLite files the
target attaches) each chunk is compared by a join instead (`_joined_chunks`): no row
text, the same findings, about twice as fast.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cutover.errors import VerificationError
from cutover.logs import get_logger
from cutover.migrate.diff import ChunkDiff, VerifyReport, cents_of, compare_rows
from cutover.migrate.mapping import Mapping
from cutover.migrate.migration import Endpoint, Migration
from cutover.migrate.stores import Database, ident, open_store
from cutover.migrate.stores.dialect import md5_lines
from cutover.migrate.transform import Reject
from cutover.plan.models import Store

log = get_logger("cutover.migrate.verify")

DEFAULT_CHUNK_ROWS = 10_000
"""Rows per checksum chunk: a mismatch is narrowed to a range of at most this many keys."""
MAX_ROW_DIFFS = 20
"""Rows listed per differing chunk in the report."""
ALL_CHECKS = ("counts", "checksums", "conservation")
SPLIT_FROM_ROWS = 200_000
"""PostgreSQL join comparison: from this many source rows on, two key ranges at once."""


def verify(
    source: Store | Endpoint,
    target: Store | Endpoint,
    mapping: str | Path | Mapping,
    *,
    job: str | None = None,
    checks: Sequence[str] = ALL_CHECKS,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    raise_on_mismatch: bool = True,
) -> VerifyReport:
    """Compare source and target completely; `VerificationError` (carrying the report) on any difference.

    Run it while the source is frozen (or after `final_drain`, which verifies for you):
    a change not yet applied is a difference.
    """
    with Migration.open(source, target, mapping, job=job) as m:
        m.source_started()
        report = run_verify(m, checks=checks, chunk_rows=chunk_rows)
    if raise_on_mismatch and not report.ok:
        raise VerificationError(
            report.summary() + ": " + "; ".join(report.problems[:5]), report=report
        )
    return report


def run_verify(
    m: Migration, *, checks: Sequence[str] = ALL_CHECKS, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> VerifyReport:
    started = time.monotonic()
    if m.is_feed:
        from cutover.migrate.feed_verify import verify_feed

        report = verify_feed(m, checks)
    else:
        report = Comparer(m, list(checks), chunk_rows).run()
    report.seconds = time.monotonic() - started
    log.info(
        "verified",
        job=m.job,
        ok=report.ok,
        rows=report.source_rows,
        chunks=report.chunks,
        seconds=round(report.seconds, 3),
        problems=len(report.problems),
    )
    return report


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


class Comparer:
    """Runs the chunked comparison of one job."""

    def __init__(self, m: Migration, checks: list[str], chunk_rows: int) -> None:
        self.m = m
        self.checks = checks
        self.chunk_rows = chunk_rows
        self.mapping = m.mapping
        self.pairs = m.mapping.points_pairs
        self.source_sql = m.mapping.sql_capable
        self.report = VerifyReport(m.job, checks, method="sql" if self.source_sql else "python")
        self.differing: set[Any] = set()
        """Every key found different (uncapped), for the final drain's pre-pass."""
        self.rejects_missing: set[Any] = set()
        self.rejects_stale: set[Any] = set()
        for db in (m.db_source, m.target):
            db.keep_aggregate_order()

    # ------------------------------------------------------------------ driver
    def run(self) -> VerifyReport:
        m, report = self.m, self.report
        state = m.checkpoints.load()
        if m.changelog is not None and state is not None and m.changelog.installed():
            report.pending_changes = m.changelog.lag(state.applied_pos)[0]
        results = self._compare_chunks()
        rejected: set[Any] = set()
        for chunk, (t_rows, t_digest, t_cents) in results:
            report.chunks += 1
            report.source_rows += chunk.accepted
            report.rejected_rows += chunk.rows - chunk.accepted
            report.target_rows += t_rows
            report.legacy_cents += chunk.cents
            report.new_cents += t_cents
            report.members += chunk.accepted if self.pairs else 0
            rejected.update(chunk.rejected_keys)
            if chunk.accepted != t_rows or chunk.digest != t_digest:
                self.explain(chunk, t_rows)
        self.check_rejects(rejected)
        if "counts" in self.checks and report.source_rows != report.target_rows:
            report.problems.insert(
                0,
                f"counts: the source has {report.source_rows:,} rows that pass cleansing, "
                f"the target {report.target_rows:,}",
            )
        if "conservation" in self.checks and self.pairs and report.legacy_cents != report.new_cents:
            report.problems.append(
                f"conservation: legacy {report.legacy_cents:,} centipoints in total, new "
                f"{report.new_cents:,} (points * 100 + remainder)"
            )
        return report

    def _compare_chunks(self) -> list[tuple[Chunk, tuple[int, str | None, int]]]:
        """Every source chunk with the target's figures for the same key range.

        Both sides on one server (one PostgreSQL database, or SQLite files the target
        attaches) and a mapping SQL can run: compared by a join per chunk (`_joined`).
        Otherwise the source's chunks are read here and the target's at the same time in
        a thread, on its own connection; for two SQLite files, one after the other.
        """
        m = self.m
        if self.source_sql and m.target.same_server(m.db_source):
            self.report.method = "join"
            return self._joined()
        if m.db_source.dialect.embedded and m.target.dialect.embedded:
            # not in two threads: SQLite's allocator takes one lock per process, and two
            # threads running queries queue on it (measured: 4x one thread's time)
            return self._sequential()
        chunks: queue.Queue[Chunk | None] = queue.Queue(maxsize=64)
        results: list[tuple[Chunk, tuple[int, str | None, int]]] = []
        failure: list[BaseException] = []

        def target_side() -> None:
            try:
                while (chunk := chunks.get()) is not None:
                    results.append((chunk, self.target_chunk(chunk.lo, chunk.hi)))
            except BaseException as exc:  # surfaced in the main thread
                failure.append(exc)
                while chunks.get() is not None:
                    pass

        worker = threading.Thread(target=target_side, name="verify-target", daemon=True)
        worker.start()
        try:
            for chunk in self._source_chunks():
                chunks.put(chunk)
        finally:
            chunks.put(None)
            worker.join()
        if failure:
            raise failure[0]
        return results

    def _joined(self) -> list[tuple[Chunk, tuple[int, str | None, int]]]:
        """The join comparison; on PostgreSQL in two key ranges on two connections at once
        (two server processes: measured 1M members in 1.1-1.3 s, against 2.4-2.7 s on one
        and 1.9-2.1 s for the checksums). SQLite stays on one: its threads would queue."""
        m, db = self.m, self.m.target
        assert m.source_table is not None
        split = None
        if not db.dialect.embedded and m.db_source.estimate(m.source_table) >= SPLIT_FROM_ROWS:
            src = m.reached_source()
            order = db.key_order(m.mapping.source.key, m.key_is_text)
            total = db.count(src)
            split = db.scalar(
                f"SELECT s.{order} FROM {src.sql} s ORDER BY s.{order} LIMIT 1 OFFSET {total // 2}"
            )
        if split is None:
            return list(self._joined_chunks(db, None, None))
        other = open_store(m.endpoints[1].config, m.endpoints[1].label)
        second: list[tuple[Chunk, tuple[int, str | None, int]]] = []
        failure: list[BaseException] = []

        def upper() -> None:
            try:
                other.keep_aggregate_order()
                second.extend(self._joined_chunks(other, split, None))
            except BaseException as exc:  # surfaced in the calling thread
                failure.append(exc)

        worker = threading.Thread(target=upper, name="verify-upper", daemon=True)
        worker.start()
        try:
            first = list(self._joined_chunks(db, None, split))
        finally:
            worker.join()
            other.close()
        if failure:
            raise failure[0]
        return first + second

    def _joined_chunks(
        self, db: Database, start: Any, stop: Any
    ) -> Iterator[tuple[Chunk, tuple[int, str | None, int]]]:
        """Keys in (start, stop] (None: open), on the target's connection `db`: each
        chunk's transformed source rows joined to the target's rows by key and compared
        field by field, in one statement. No row is turned into text, which is where the
        checksums spend their time (SQLite, 1M members: 1.5 s against 4 s).

        Field values compare as the engine compares them (`IS DISTINCT FROM`; text
        bytewise; a target column of another type than the mapping's output compares as
        text), and each member's legacy centipoints against `whole * 100 + remainder`. A
        chunk with any difference, or a target row the source does not have, is then
        explained row by row like a checksum mismatch.
        """
        m = self.m
        src = m.reached_source()
        key, tkey = m.mapping.source.key, m.mapping.target.key
        order = db.key_order(key, m.key_is_text)
        t_order = db.key_order(tkey, m.key_is_text)
        sql = m.sql(db)
        cols = m.mapping.target_columns
        key_expr = sql.exprs[cols.index(tkey)]
        found = db.columns(m.target_table) or {}
        d = db.dialect
        differs = []
        for e, c, kind in zip(sql.exprs, cols, m.mapping.output_types.values(), strict=True):
            if c == tkey:
                continue
            if found.get(c, kind) == kind:
                differs.append(d.distinct_from(f"({e})", d.bytewise(f"t.{ident(c)}")))
            else:
                differs.append(
                    d.distinct_from(f"CAST({e} AS TEXT)", d.bytewise(f"CAST(t.{ident(c)} AS TEXT)"))
                )
        differs += [
            d.distinct_from(
                f"s.{ident(p.source)}", f"(t.{ident(p.whole)} * 100 + t.{ident(p.remainder)})"
            )
            for p in self.pairs
        ]
        differ = " OR ".join(differs) or "FALSE"
        cents = " + ".join(f"coalesce(s.{ident(p.source)}, 0)" for p in self.pairs) or "0"
        news = " + ".join(
            f"coalesce(t.{ident(p.whole)} * 100 + t.{ident(p.remainder)}, 0)" for p in self.pairs
        )
        reason = f"({sql.reason})"
        missing = f"t.{ident(tkey)} IS NULL"
        lo: Any = start
        while True:
            where, params = db.key_range(f"s.{order}", lo, stop)
            hi, n = db.query(
                f"SELECT max(k), count(*) FROM (SELECT s.{order} AS k FROM {src.sql} s "
                f"WHERE {where} ORDER BY s.{order} LIMIT {int(self.chunk_rows)}) c",
                params,
            )[0]
            last = n < self.chunk_rows
            upto = stop if last else hi  # the final chunk of the table is open-ended
            where, params = db.key_range(f"s.{order}", lo, upto)
            t_where, t_params = db.key_range(f"t.{t_order}", lo, upto)
            # the target's range in the join too: PostgreSQL then reads it by its key
            join = (
                f"FROM {src.sql} s LEFT JOIN {m.target_table.sql} t "
                f"ON t.{ident(tkey)} = {key_expr} AND {t_where} WHERE {where}"
            )
            both = [*t_params, *params]
            # the cleansing rules once per row (SQLite would evaluate them once per use):
            # the exact figures below only for the rare chunk with rejected rows
            rows, rejects, bad, cents_sum = db.query(
                f"SELECT count(*), count({reason}), "
                f"coalesce(sum(CASE WHEN {missing} OR {differ} THEN 1 ELSE 0 END), 0), "
                f"coalesce(sum({cents}), 0) {join}",
                both,
            )[0]
            if rejects:
                bad, cents_sum = db.query(
                    f"SELECT coalesce(sum(CASE WHEN {reason} IS NULL AND ({missing} OR {differ}) "
                    f"THEN 1 WHEN {reason} IS NOT NULL AND NOT {missing} THEN 1 ELSE 0 END), 0), "
                    f"coalesce(sum(CASE WHEN {reason} IS NULL THEN {cents} END), 0) {join}",
                    both,
                )[0]
            t_rows, t_cents = db.query(
                f"SELECT count(*), coalesce(sum({news or '0'}), 0) FROM {m.target_table.sql} t "
                f"WHERE {t_where}",
                t_params,
            )[0]
            rejected: list[Any] = []
            if rejects:
                rejected = [
                    r[0]
                    for r in db.query(
                        f"SELECT s.{ident(key)} FROM {src.sql} s WHERE {where} AND {reason} IS NOT NULL",
                        params,
                    )
                ]
            accepted = int(rows) - int(rejects)
            # equal "digests" stand for "no row differs": any difference is explained row by row
            same = "=" if accepted else None
            chunk = Chunk(lo, upto, int(rows), accepted, same, int(cents_sum), rejected)
            yield chunk, (int(t_rows), "≠" if bad else same, int(t_cents))
            if last:
                return
            lo = hi

    def _sequential(self) -> list[tuple[Chunk, tuple[int, str | None, int]]]:
        return [(c, self.target_chunk(c.lo, c.hi)) for c in self._source_chunks()]

    def _source_chunks(self) -> Iterator[Chunk]:
        lo: Any = None
        while True:
            chunk = self.source_chunk(lo)
            last = chunk.rows < self.chunk_rows
            if last:
                chunk.hi = None  # the final chunk is open-ended: extra target rows land in it
            yield chunk
            if last:
                return
            lo = chunk.hi

    # ------------------------------------------------------------ source side
    def source_chunk(self, lo: Any) -> Chunk:
        m = self.m
        db = m.db_source
        assert m.source_table is not None
        key = m.mapping.source.key
        order = db.key_order(key, m.key_is_text)
        where, params = db.key_range(f"s.{order}", lo, None)
        limit = int(self.chunk_rows)
        if not self.source_sql:
            cols = ", ".join(f"s.{ident(c)}" for c in m.mapping.source_columns)
            rows = db.query(
                f"SELECT {cols} FROM {m.source_table.sql} s WHERE {where} ORDER BY s.{order} LIMIT {limit}",
                params,
            )
            return self._python_chunk(lo, rows)
        sql = m.sql(db)
        text = db.dialect.row_text(sql.exprs, [f"s.{ident(p.source)}" for p in self.pairs])
        cents = " + ".join(f"coalesce(s.{ident(p.source)}, 0)" for p in self.pairs) or "0"
        inner = (
            f"SELECT s.{ident(key)} AS k, {text} AS txt, {cents} AS cents, {sql.reason} AS reason "
            f"FROM {m.source_table.sql} s WHERE {where} ORDER BY s.{order} LIMIT {limit}"
        )
        hi, n, accepted, digest, total, rejected = db.checksum_chunk(inner, params, m.key_is_text)
        return Chunk(lo, hi, n, accepted, digest, total, rejected)

    def _python_chunk(self, lo: Any, rows: Sequence[tuple[Any, ...]]) -> Chunk:
        m = self.m
        key_at = m.mapping.source_columns.index(m.mapping.source.key)
        src_at = [m.mapping.source_columns.index(p.source) for p in self.pairs]
        texts, rejected = [], []
        cents = 0
        row_text = m.compiled.row_text
        for row in rows:
            text = row_text(row)
            if text.__class__ is Reject:
                rejected.append(row[key_at])
                continue
            texts.append(text)
            for j in src_at:
                value = row[j]
                cents += value if value.__class__ is int else (cents_of(value) or 0)
        return Chunk(
            lo,
            rows[-1][key_at] if rows else None,
            len(rows),
            len(texts),
            md5_lines(texts),
            cents,
            rejected,
        )

    # ------------------------------------------------------------ target side
    def _target_sql(self, lo: Any, hi: Any) -> tuple[str, list[Any]]:
        """The target's chunk query, in SQL: (rows, checksum or joined text, centipoints)."""
        m, db = self.m, self.m.target
        key = m.mapping.target.key
        order = db.key_order(key, m.key_is_text)
        where, params = db.key_range(f"t.{order}", lo, hi)
        cols = [f"t.{ident(c)}" for c in m.mapping.target_columns]
        news = [f"(t.{ident(p.whole)} * 100 + t.{ident(p.remainder)})" for p in self.pairs]
        text = db.dialect.row_text(cols, news)
        cents = " + ".join(f"coalesce({n}, 0)" for n in news) or "0"
        inner = (
            f"SELECT {text} AS txt, {cents} AS cents FROM {m.target_table.sql} t "
            f"WHERE {where} ORDER BY t.{order}"
        )
        agg = db.dialect.digest_agg("txt")
        return f"SELECT count(*), {agg}, coalesce(sum(cents), 0) FROM ({inner}) c", params

    def target_chunk(self, lo: Any, hi: Any) -> tuple[int, str | None, int]:
        m, db = self.m, self.m.target
        if db.dialect.hashes or self.source_sql:
            # the source's text came from SQL: so does the target's
            sql, params = self._target_sql(lo, hi)
            n, text, total = db.query(sql, params)[0]
            return int(n), db.dialect.digest(text), int(total)
        key = m.mapping.target.key
        order = db.key_order(key, m.key_is_text)
        where, params = db.key_range(f"t.{order}", lo, hi)
        tcols = ", ".join(f"t.{ident(c)}" for c in m.mapping.target_columns)
        rows = db.query(
            f"SELECT {tcols} FROM {m.target_table.sql} t WHERE {where} ORDER BY t.{order}", params
        )
        target_text = m.compiled.target_text
        at = [
            (m.mapping.target_columns.index(p.whole), m.mapping.target_columns.index(p.remainder))
            for p in self.pairs
        ]
        total = sum((r[w] or 0) * 100 + (r[x] or 0) for r in rows for w, x in at)
        return len(rows), md5_lines(target_text(r) for r in rows), total

    # ------------------------------------------------------------ explaining
    def explain(self, chunk: Chunk, target_rows: int) -> None:
        """Compare one differing chunk row by row and record what differs."""
        m = self.m
        src, dst = m.db_source, m.target
        assert m.source_table is not None
        s_order = src.key_order(m.mapping.source.key, m.key_is_text)
        where, params = src.key_range(s_order, chunk.lo, chunk.hi)
        cols = ", ".join(ident(c) for c in m.mapping.source_columns)
        source_rows = src.query(f"SELECT {cols} FROM {m.source_table.sql} WHERE {where}", params)
        t_order = dst.key_order(m.mapping.target.key, m.key_is_text)
        where, params = dst.key_range(t_order, chunk.lo, chunk.hi)
        tcols = ", ".join(ident(c) for c in m.mapping.target_columns)
        target = dst.query(f"SELECT {tcols} FROM {m.target_table.sql} WHERE {where}", params)
        rows, members = compare_rows(m, source_rows, target)
        self.differing.update(r.key for r in rows)
        self.differing.update(mem.key for mem in members)
        diff = ChunkDiff(
            chunk.lo,
            chunk.hi,
            chunk.accepted,
            target_rows,
            rows[:MAX_ROW_DIFFS],
            members[:MAX_ROW_DIFFS],
        )
        self.report.mismatched.append(diff)
        where_txt = f"keys ({_show(chunk.lo)}, {_show(chunk.hi, 'end')}]"
        if not rows and not members:
            self.report.problems.append(
                f"checksums: {where_txt} differ but every row compares equal in Python: "
                "the SQL and Python transforms disagree (a bug: report it)"
            )
            return
        if "checksums" not in self.checks:  # only a row missing or extra still counts
            rows = [r for r in rows if r.kind != "different"] if "counts" in self.checks else []
        kinds: dict[str, int] = {}
        for r in rows:
            kinds[r.kind] = kinds.get(r.kind, 0) + 1
        if rows:
            text = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            first = rows[0]
            detail = f"; first: key {_show(first.key)} {first.kind}"
            if first.fields:
                name, (want, got) = next(iter(first.fields.items()))
                detail += f" ({name}: expected {want!r}, found {got!r})"
            check = "checksums" if "checksums" in self.checks else "counts"
            self.report.problems.append(f"{check}: {where_txt}: {text}{detail}")
        if members and "conservation" in self.checks:
            mem = members[0]
            self.report.problems.append(
                f"conservation: {len(members)} members in {where_txt} do not add up; first: "
                f"member {_show(mem.key)} legacy {mem.legacy_cents} centipoints, new "
                f"{mem.points} points + {mem.remainder_cents} remainder = {mem.new_cents}"
            )

    def check_rejects(self, rejected: set[Any]) -> None:
        recorded = self.m.checkpoints.rejected_keys()
        self.report.rejects_recorded = len(recorded)
        self.rejects_missing = rejected - recorded
        self.rejects_stale = recorded - rejected
        missing = sorted(str(k) for k in self.rejects_missing)
        stale = sorted(str(k) for k in self.rejects_stale)
        if missing:
            self.report.problems.append(
                f"rejects: {len(missing)} source rows fail cleansing but are not in the reject "
                f"record (first: {missing[0]})"
            )
        if stale:
            self.report.problems.append(
                f"rejects: {len(stale)} keys are recorded as rejected but pass cleansing now or are "
                f"gone (first: {stale[0]}): changes not applied yet?"
            )


def _show(key: Any, open_end: str = "start") -> str:
    return open_end if key is None else repr(key)
