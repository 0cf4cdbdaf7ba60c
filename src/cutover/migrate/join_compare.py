"""The join comparison: each chunk compared by one statement that reads both tables.

When one statement can read both tables (one PostgreSQL database, or SQLite files the
target attaches), each chunk's transformed source rows are joined to the target's rows
by key and compared field by field. No row is turned into text, which is where the
checksums spend their time (SQLite, 1M members: 1.5 s against 4 s); the findings are
the same, and a chunk with any difference is explained row by row like a checksum
mismatch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from cutover.migrate.diff import Chunk, TargetSums
from cutover.migrate.migration import Migration
from cutover.migrate.stores import Database, ident, open_store

SPLIT_FROM_ROWS = 200_000
"""On a server engine: from this many source rows on, two key ranges at once."""


def joined(m: Migration, chunk_rows: int) -> list[tuple[Chunk, TargetSums]]:
    """Every chunk compared by a join; on a server engine in two key ranges on two
    connections at once (two server processes: measured 1M members in 1.1-1.3 s, against
    2.4-2.7 s on one and 1.9-2.1 s for the checksums). SQLite stays on one: its threads
    would queue."""
    db = m.target
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
        return list(_JoinedChunks(m, db, chunk_rows).chunks(None, None))
    other = open_store(m.endpoints[1].config, m.endpoints[1].label)
    second: list[tuple[Chunk, TargetSums]] = []
    failure: list[BaseException] = []

    def upper() -> None:
        try:
            other.keep_aggregate_order()
            second.extend(_JoinedChunks(m, other, chunk_rows).chunks(split, None))
        except BaseException as exc:  # surfaced in the calling thread
            failure.append(exc)

    worker = threading.Thread(target=upper, name="verify-upper", daemon=True)
    worker.start()
    try:
        first = list(_JoinedChunks(m, db, chunk_rows).chunks(None, split))
    finally:
        worker.join()
        other.close()
    if failure:
        raise failure[0]
    return first + second


class _JoinedChunks:
    """The join's SQL for one job on the target's connection `db`.

    Field values compare as the engine compares them (distinct-from; text bytewise; a
    target column of another type than the mapping's output compares as text), and each
    member's legacy centipoints against `whole * 100 + remainder`.
    """

    def __init__(self, m: Migration, db: Database, chunk_rows: int) -> None:
        self.m, self.db, self.chunk_rows = m, db, chunk_rows
        self.src = m.reached_source()
        key, tkey = m.mapping.source.key, m.mapping.target.key
        self.order = db.key_order(key, m.key_is_text)
        self.t_order = db.key_order(tkey, m.key_is_text)
        sql = m.sql(db)
        cols = m.mapping.target_columns
        self.key_expr = sql.exprs[cols.index(tkey)]
        found = db.columns(m.target_table) or {}
        d, pairs = db.dialect, m.mapping.points_pairs
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
            for p in pairs
        ]
        self.differ = " OR ".join(differs) or "FALSE"
        self.cents = " + ".join(f"coalesce(s.{ident(p.source)}, 0)" for p in pairs) or "0"
        self.news = " + ".join(
            f"coalesce(t.{ident(p.whole)} * 100 + t.{ident(p.remainder)}, 0)" for p in pairs
        )
        self.reason = f"({sql.reason})"
        self.missing = f"t.{ident(tkey)} IS NULL"

    def chunks(self, start: Any, stop: Any) -> Iterator[tuple[Chunk, TargetSums]]:
        """Keys in (start, stop] (None: open), chunk by chunk."""
        db, src, order = self.db, self.src, self.order
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
            yield self.chunk(lo, upto)
            if last:
                return
            lo = hi

    def chunk(self, lo: Any, upto: Any) -> tuple[Chunk, TargetSums]:
        """One chunk (lo, upto]: both sides' figures and whether any row differs."""
        m, db, src = self.m, self.db, self.src
        reason, missing, differ, cents = self.reason, self.missing, self.differ, self.cents
        where, params = db.key_range(f"s.{self.order}", lo, upto)
        t_where, t_params = db.key_range(f"t.{self.t_order}", lo, upto)
        # the target's range in the join too: PostgreSQL then reads it by its key
        join = (
            f"FROM {src.sql} s LEFT JOIN {m.target_table.sql} t "
            f"ON t.{ident(m.mapping.target.key)} = {self.key_expr} AND {t_where} WHERE {where}"
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
        rejected: list[Any] = []
        if rejects:
            bad, cents_sum = db.query(
                f"SELECT coalesce(sum(CASE WHEN {reason} IS NULL AND ({missing} OR {differ}) "
                f"THEN 1 WHEN {reason} IS NOT NULL AND NOT {missing} THEN 1 ELSE 0 END), 0), "
                f"coalesce(sum(CASE WHEN {reason} IS NULL THEN {cents} END), 0) {join}",
                both,
            )[0]
        t_rows, t_cents = db.query(
            f"SELECT count(*), coalesce(sum({self.news or '0'}), 0) FROM {m.target_table.sql} t "
            f"WHERE {t_where}",
            t_params,
        )[0]
        if rejects:
            rejected = [
                r[0]
                for r in db.query(
                    f"SELECT s.{ident(m.mapping.source.key)} FROM {src.sql} s WHERE {where} "
                    f"AND {reason} IS NOT NULL",
                    params,
                )
            ]
        suspects = None
        if bad:  # which rows: with writes flowing most chunks have a few (lag), not many
            wrong = f"({missing} OR {differ})"
            if rejects:
                wrong = (
                    f"(({reason} IS NULL AND {wrong}) OR ({reason} IS NOT NULL AND NOT {missing}))"
                )
            key = f"s.{ident(m.mapping.source.key)}"
            suspects = [r[0] for r in db.query(f"SELECT {key} {join} AND {wrong}", both)]
        accepted = int(rows) - int(rejects)
        # equal "digests" stand for "no row differs": any difference is explained row by row
        same = "=" if accepted else None
        chunk = Chunk(lo, upto, int(rows), accepted, same, int(cents_sum), rejected, suspects)
        return chunk, (int(t_rows), "≠" if bad else same, int(t_cents))
