"""Carry back: after a switch, bring what was written to the new store back to the legacy one.

At the switch, reverse change capture is installed on the new store's tables (the
same triggers as forward capture). A rollback then, while the system's writes are
buffered, reads every key the reverse changelog saw, computes the legacy row from
the new one with a *carry-back file*, and upserts it into the legacy store (or
deletes it, if the key is gone). It is idempotent: run it twice and the legacy
store ends the same. `discard` then moves the new store's tables aside (kept for
forensics, renamed `_rolledback_<stamp>_<table>`) and puts empty tables of the same
shape in their place (a system still reading there finds nothing, not an error),
resets the migration job and removes both captures, so the next attempt starts clean.

A carry-back file (`plans/carry-back/*.yaml`, a migrate step's `rollback:`) says how
each new-store table's rows become legacy rows; its models and loading are
`cutover.plan.carry_back`, and `load_plan` loads the one each step names.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from cutover.migrate.capture import Changelog
from cutover.migrate.mapping import MappingRef, as_mapping
from cutover.migrate.stores import Database, open_store
from cutover.plan.carry_back import CarryBack, CarryTable, Centipoints, load_carry_back
from cutover.plan.models import Store

__all__ = [  # the file's models and loader are re-exported from before they moved to plan/
    "CarryBack",
    "CarryTable",
    "Centipoints",
    "carry_back",
    "discard",
    "install_reverse",
    "load_carry_back",
    "pending_writes",
]

BATCH = 2_000


def _open(store: Store, label: str) -> Database:
    return open_store(store, label)


def install_reverse(target: Store, spec: CarryBack, label: str = "target") -> list[str]:
    """Install reverse capture on every table of the spec in the new store (idempotent)."""
    installed = []
    with _open(target, label) as db:
        for item in spec.tables:
            table = db.resolve(item.table)
            if db.columns(table) is None:
                continue  # the system never wrote this table here: nothing to capture
            Changelog(db, table, item.key).install()
            installed.append(item.table)
    return installed


def pending_writes(target: Store, table: str, key: str, label: str = "target") -> int:
    """How many changes reverse capture recorded on `table` of the new store."""
    with _open(target, label) as db:
        ref = db.resolve(table)
        log = Changelog(db, ref, key)
        if db.columns(ref) is None or not log.installed():
            return 0
        return log.lag(0)[0]


def _legacy_row(item: CarryTable, columns: list[str], row: dict[str, Any]) -> tuple[Any, ...]:
    mapping = item.columns
    out = []
    for column in columns:
        source = column if mapping == "same" else mapping[column]
        if isinstance(source, Centipoints):
            whole, remainder = source.centipoints
            out.append(int(row[whole]) * 100 + int(row[remainder]))
        else:
            out.append(row[source])
    return tuple(out)


def carry_back(
    target: Store, source: Store, spec: CarryBack, *, labels: tuple[str, str] = ("new", "legacy")
) -> dict[str, Any]:
    """Upsert into the legacy store every row the new store changed since the switch."""
    began = time.monotonic()
    carried: dict[str, int] = {}
    with _open(target, labels[0]) as new, _open(source, labels[1]) as old:
        for item in spec.tables:
            new_table = new.resolve(item.table)
            new_columns = new.columns(new_table)
            log = Changelog(new, new_table, item.key)
            if new_columns is None or not log.installed():
                carried[item.table] = 0
                continue
            old_table = old.resolve(item.to)
            old_columns = old.columns(old_table)
            if old_columns is None:
                raise old.fail(f"legacy table {item.to} does not exist")
            legacy_columns = list(old_columns) if item.columns == "same" else list(item.columns)
            keys = sorted(log.keys_since(0), key=str)
            names = list(new_columns)
            count = 0
            for start in range(0, len(keys), BATCH):
                part = keys[start : start + BATCH]
                rows = new.read_keys(new_table, names, item.key, part)
                found = {}
                for values in rows:
                    row = dict(zip(names, values, strict=True))
                    found[row[item.key]] = row
                upserts = [_legacy_row(item, legacy_columns, r) for r in found.values()]
                gone = [k for k in part if k not in found]
                with old.transaction():
                    if upserts:
                        types = [old_columns[c] for c in legacy_columns]
                        old.upsert_rows(old_table, legacy_columns, types, item.key, upserts)
                    if gone:
                        old.delete_keys(old_table, item.key, gone)
                count += len(upserts) + len(gone)
            carried[item.table] = count
    return {"carried": carried, "seconds": round(time.monotonic() - began, 3)}


def discard(
    target: Store,
    source: Store,
    mapping: MappingRef,
    spec: CarryBack | None,
    *,
    labels: tuple[str, str] = ("new", "legacy"),
) -> dict[str, Any]:
    """Move the new store's tables aside, reset the job, remove forward and reverse capture.

    Idempotent: a table already moved aside is not there any more, and is skipped.
    """
    from cutover.migrate.migration import Endpoint, Migration

    forward = as_mapping(mapping)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    moved: list[str] = []
    with _open(target, labels[0]) as new:
        present = new.columns(new.resolve(target.table or forward.target.table)) is not None
    if present:
        with Migration.open(
            Endpoint.of(source, labels[1]), Endpoint.of(target, labels[0]), forward
        ) as m:
            m.checkpoints.reset()
    with _open(source, labels[1]) as old:
        src_table = old.resolve(source.table or forward.source.table)
        if old.columns(src_table) is not None:
            Changelog(old, src_table, forward.source.key).remove()
    tables = {(target.table or forward.target.table, forward.target.key)}
    if spec is not None:
        tables |= {(t.table, t.key) for t in spec.tables}
    with _open(target, labels[0]) as new:
        for name, key in sorted(tables):
            ref = new.resolve(name)
            if new.columns(ref) is None:
                continue
            Changelog(new, ref, key).remove()
            aside = f"_rolledback_{stamp}_{ref.name}"[:63]
            with new.transaction():  # one transaction: readers see the old table or the new one
                new.replace_with_empty(ref, aside)
            moved.append(aside)
    return {"moved_aside": moved}
