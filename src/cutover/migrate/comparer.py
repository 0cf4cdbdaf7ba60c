"""The chunked comparison of a table with its target: checksums or joins, then row by row.

The source is cut into key-ordered chunks; for each, both sides compute (in SQL
where they can, in parallel on their own connections) the row count, the sum of
centipoints, and one MD5 over every row's text in key order: the transformed
projection, then each member's centipoints: the legacy balance on the source,
`points * 100 + remainder` on the target. Equal hashes prove every row and every
member's balance equal to the cent; a differing chunk names its key range and is then
compared row by row, so the report lists the members and fields that differ. Rows that
fail cleansing must be in the rejects and absent from the target.

When one statement can read both tables each chunk is compared by a join instead
(`join_compare`): no row text, the same findings, about twice as fast.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from cutover.migrate.diff import (
    MAX_ROW_DIFFS,
    Chunk,
    ChunkDiff,
    TargetSums,
    VerifyReport,
    cents_of,
    compare_rows,
)
from cutover.migrate.join_compare import joined
from cutover.migrate.migration import Migration
from cutover.migrate.stores import ident
from cutover.migrate.stores.dialect import md5_lines
from cutover.migrate.transform import Reject

DEFAULT_CHUNK_ROWS = 10_000
"""Rows per checksum chunk: a mismatch is narrowed to a range of at most this many keys."""


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

    def _compare_chunks(self) -> list[tuple[Chunk, TargetSums]]:
        """Every source chunk with the target's figures for the same key range.

        Both sides on one server (one PostgreSQL database, or SQLite files the target
        attaches) and a mapping SQL can run: compared by a join per chunk (`_joined`).
        Otherwise the source's chunks are read here and the target's at the same time in
        a thread, on its own connection; for two SQLite files, one after the other.
        """
        m = self.m
        if self.source_sql and m.target.same_server(m.db_source):
            self.report.method = "join"
            return joined(m, self.chunk_rows)
        if m.db_source.dialect.embedded and m.target.dialect.embedded:
            # not in two threads: SQLite's allocator takes one lock per process, and two
            # threads running queries queue on it (measured: 4x one thread's time)
            return self._sequential()
        chunks: queue.Queue[Chunk | None] = queue.Queue(maxsize=64)
        results: list[tuple[Chunk, TargetSums]] = []
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

    def _sequential(self) -> list[tuple[Chunk, TargetSums]]:
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

    def target_chunk(self, lo: Any, hi: Any) -> TargetSums:
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
        found = self._suspect_rows(chunk, target_rows)
        if found is None:
            found = self._chunk_rows(chunk)
        rows, members = compare_rows(self.m, *found)
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

    def _chunk_rows(self, chunk: Chunk) -> tuple[list[Any], list[Any]]:
        """Every row of the chunk's key range, on both sides."""
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
        return list(source_rows), list(target)

    def _suspect_rows(self, chunk: Chunk, target_rows: int) -> tuple[list[Any], list[Any]] | None:
        """Only the rows the join found differing, on both sides, when they explain the
        whole chunk: the counts agree and every one of them is in the target, so no row
        is missing and none extra (a row only in the target is not in a join from the
        source). None: read the chunk whole."""
        keys = chunk.suspects
        if keys is None or chunk.accepted != target_rows or len(keys) > self.chunk_rows // 2:
            return None
        source_rows, target = keyed_rows(self.m, keys)
        if len(target) != len({self.m.mapping.target_key(k) for k in keys}):
            return None
        return source_rows, target

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


def keyed_rows(m: Migration, source_keys: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """The rows of these source keys on both sides: the source's by key, the target's by
    each key as the mapping writes it (a key missing on a side has no row there)."""
    mp = m.mapping
    assert m.source_table is not None
    source = m.db_source.read_keys(m.source_table, mp.source_columns, mp.source.key, source_keys)
    targets = [mp.target_key(k) for k in source_keys]
    target = m.target.read_keys(m.target_table, mp.target_columns, mp.target.key, targets)
    return list(source), list(target)


def _show(key: Any, open_end: str = "start") -> str:
    return open_end if key is None else repr(key)
