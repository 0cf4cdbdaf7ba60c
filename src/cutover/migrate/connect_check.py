"""`cutover validate --env ENV --connect`: every mapping checked against the real stores of ENV.

For each migrate step of the plan (each source, target and mapping once): the source
must be there and have exactly the mapping's `source.columns`, of those types, with
a unique key (a SQLite or PostgreSQL table), or a header with exactly those columns
(a CSV feed); an existing target table must have every column the mapping makes, of
its type. A missing target table is fine (the copy creates it). Nothing is written:
SQLite files are opened only if they exist.

Each problem is a `Problem` at its line: a column or type in the mapping file (the
`source.columns` entry, the `fields` entry, the key), a store that cannot be reached
at the store's line in the plan.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from cutover.errors import Problem, StoreError
from cutover.migrate.fit import Drift, source_drift, target_misfits
from cutover.migrate.mapping import Mapping, compile_mapping
from cutover.migrate.stores import Database, describe, open_store
from cutover.plan import LoadedMapping, LoadedPlan
from cutover.plan.models import MigrateStep, Store

HEADER_BYTES = 64 * 1024
"""The most of a feed read to find its header line."""


def connect_problems(loaded: LoadedPlan, env: str) -> list[Problem]:
    """What the stores of `env` say about the plan's mappings; [] when everything fits."""
    environment = loaded.plan.environments[env]
    found: list[Problem] = []
    done: set[tuple[str, str, str]] = set()
    for step in _migrate_steps(loaded):
        for role, store_id in (("source", step.source), ("target", step.target)):
            if (role, store_id, step.mapping) in done or store_id not in environment.stores:
                continue  # an unknown store id is the plan's lint problem
            done.add((role, store_id, step.mapping))
            config = environment.stores[store_id]
            where = ("environments", env, "stores", store_id)
            try:
                found += _check(role, config, loaded.mapping(step))
            except StoreError as exc:
                found.append(
                    loaded.source.problem(
                        where, f"{store_id} ({describe(config)}): {exc_text(exc)}"
                    )
                )
    return sorted(set(found))


def exc_text(exc: StoreError) -> str:
    """A StoreError's message without the store's name (the problem names it)."""
    return str(exc).removeprefix(f"{exc.store}: ")


def _migrate_steps(loaded: LoadedPlan) -> Iterator[MigrateStep]:
    for system in loaded.plan.systems:
        for step in system.steps:
            if isinstance(step, MigrateStep):
                yield step


def _check(role: str, config: Store, loaded: LoadedMapping) -> list[Problem]:
    mapping = compile_mapping(loaded)
    if role == "source" and config.engine == "csv":
        return _feed(config, mapping, loaded)
    if config.engine == "csv":
        return [_at(loaded, ("target", "table"), "a file feed can be a source, not a target")]
    if config.engine == "sqlite" and role == "target" and not Path(config.path or "").exists():
        return []  # the copy creates it
    with open_store(config, create=False) as db:
        if role == "source":
            return _source_table(db, config, mapping, loaded)
        return _target_table(db, config, mapping, loaded)


def _at(loaded: LoadedMapping, path: tuple[str | int, ...], message: str) -> Problem:
    """A problem at the line of the key that introduces `path` in the mapping file."""
    return Problem(loaded.source.file, loaded.source.key_line(path), message)


def _feed(config: Store, mapping: Mapping, loaded: LoadedMapping) -> list[Problem]:
    path = Path(config.path or "")
    if not path.is_file():
        raise StoreError("no such feed file" if not path.exists() else "is not a file", store="")
    with path.open("rb") as handle:
        first = handle.read(HEADER_BYTES).split(b"\n", 1)[0]
    try:
        header = [h.strip() for h in next(csv.reader([first.decode("utf-8")]), [])]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise StoreError(f"not a CSV header: {exc}", store="") from None
    drift = source_drift(dict.fromkeys(header), mapping, feed=True)
    return _drift_problems(drift, loaded, f"feed {path}")


def _source_table(
    db: Database, config: Store, mapping: Mapping, loaded: LoadedMapping
) -> list[Problem]:
    table = db.resolve(config.table or mapping.source.table)
    columns = db.columns(table)
    if columns is None:
        return [_at(loaded, ("source", "table"), f"table {table} does not exist in {db.label}")]
    drift = source_drift(dict(columns), mapping)
    found = _drift_problems(drift, loaded, f"table {table} of {db.label}")
    if mapping.source.key in columns and not db.unique_key(table, mapping.source.key):
        found.append(
            _at(
                loaded,
                ("source", "key"),
                f"source.key {mapping.source.key!r} is not a primary key or unique index of "
                f"table {table} of {db.label}",
            )
        )
    return found


def _drift_problems(drift: Drift, loaded: LoadedMapping, where: str) -> list[Problem]:
    found = [
        _at(loaded, ("source", "columns", name), f"source column {name!r} is not in the {where}")
        for name in drift.missing
    ]
    found += [
        _at(
            loaded, ("source", "columns"), f"the {where} has column {name!r}, not in source.columns"
        )
        for name in drift.extra
    ]
    found += [
        _at(
            loaded,
            ("source", "columns", name),
            f"source column {name!r} is {actual} in the {where}, the mapping says {kind}",
        )
        for name, actual, kind in drift.types
    ]
    return found


def _target_table(
    db: Database, config: Store, mapping: Mapping, loaded: LoadedMapping
) -> list[Problem]:
    table = db.resolve(config.table or mapping.target.table)
    columns = db.columns(table)
    if columns is None:
        return []  # the copy creates it
    where = f"target table {table} of {db.label}"
    field = "fields" if loaded.spec.fields is not None else "source"  # no fields: as the source
    found = [
        _at(
            loaded,
            (field, name) if field == "fields" else (field, "columns", name),
            f"{where}: {misfit}",
        )
        for name, misfit in target_misfits(columns, mapping).items()
    ]
    key = mapping.target.key
    if key in columns and not db.dialect.defers_key and not db.unique_key(table, key):
        found.append(
            _at(loaded, ("target", "key"), f"{where}: {key!r} is not a primary key or unique index")
        )
    return found
