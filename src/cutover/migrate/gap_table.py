"""The gap analysis of a table: a store's rows, in key order, through the mapping's transform.

The rows go through the mapping's typed entry point (`Compiled.rows`), as the
migrate step's Python path transforms a table's chunks. A source column of another
type in the store than the mapping says is refused by the migrate step as schema
drift; here it is reported as a type clash and read as empty.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from cutover.errors import StoreError
from cutover.migrate.fit import type_fits
from cutover.migrate.gap_counter import BATCH, GapCounter, no_cycle_collection, source_fields
from cutover.migrate.gaps import GapReport
from cutover.migrate.mapping import Mapping, MappingRef, as_mapping
from cutover.migrate.stores import Database, ident, open_store
from cutover.migrate.transform import Reject
from cutover.plan.models import Store


def analyse_table(
    mapping: MappingRef, config: Store, label: str | None = None, *, chunk_rows: int = BATCH
) -> GapReport:
    """The gap report of a store's table, read in key order; StoreError if it cannot be read."""
    started = time.monotonic()
    m = as_mapping(mapping)
    with open_store(config, label, create=False) as db:
        table = db.resolve(config.table or m.source.table)
        columns = db.columns(table)
        if columns is None:
            raise StoreError(f"table {table} does not exist", store=db.label)
        report = GapReport(m.path, f"{db.label} table {table}")
        clashing = _type_clashes(report, columns, m)
        readable = [c for c in columns if c not in clashing]
        report.fields = source_fields(m, readable, None)
        for f in report.fields:
            if f.name in clashing:
                f.status = "missing"
        counter = GapCounter(m, report)
        with no_cycle_collection():
            _read_table(counter, db, table.sql, readable, m, chunk_rows)
    return counter.finish(started)


def _type_clashes(report: GapReport, columns: dict[str, str], m: Mapping) -> set[str]:
    """Source columns whose store type is not the mapping's (read as empty here)."""
    out = set()
    for name, kind in m.source.columns.items():
        actual = columns.get(name)
        if actual is None or type_fits(actual, kind):
            continue
        out.add(name)
        report.clashes.append(
            f"source column {name!r} is {actual} in the store, the mapping says {kind} "
            "(the migrate step refuses the table; read as empty here)"
        )
    return out


def _read_table(
    counter: GapCounter, db: Database, table: str, readable: list[str], m: Mapping, chunk: int
) -> None:
    cols = ", ".join(ident(c) if c in readable else "NULL" for c in m.source_columns)
    key = m.source.key
    at = m.source_columns.index(key)
    if key not in readable:
        _count_rows(counter, db.query(f"SELECT {cols} FROM {table}"), at)
        return
    order = db.key_order(key, m.source.columns[key] == "text")
    last: Any = None
    while True:
        where = "" if last is None else f" WHERE {order} > {db.ph}"
        rows = db.query(
            f"SELECT {cols} FROM {table}{where} ORDER BY {order} LIMIT {int(chunk)}",
            [] if last is None else [last],
        )
        if not rows:
            return
        _count_rows(counter, rows, at)
        last = rows[-1][at]


def _count_rows(counter: GapCounter, rows: Sequence[Sequence[Any]], key_at: int) -> None:
    counter.report.rows += len(rows)
    try:
        outs, bad = counter.compiled.rows(rows)
    except (TypeError, ValueError):  # a value of another type than its column's (SQLite)
        outs, bad = [], []
        for values in rows:
            try:
                out = counter.compiled.row(values)
            except (TypeError, ValueError):
                out = Reject("a value is not of its column's declared type")
            if isinstance(out, Reject):
                bad.append((values, out))
            else:
                outs.append(out)
    rejected = {id(values) for values, _ in bad}
    for values, reason in bad:
        counter.reject(str(reason), values[key_at], None)
    good = [values for values in rows if id(values) not in rejected] if bad else rows
    counter.batch += outs
    counter.sources += good
    if len(counter.batch) >= BATCH:
        counter.flush()
