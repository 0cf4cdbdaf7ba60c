"""Seed the legacy stores a plan migrates, so a simulated environment has data in every one.

The loyalty core's members are written by the estate and its traffic. Every other
`migrate` step of a plan (consents, ledger, catalog, offers, segments, file feeds)
names a source store that must hold the table its mapping expects: this module
creates it from the mapping's declared source columns and fills it with rows that
satisfy the mapping's rules (lookups, patterns, minimums), deterministic for a seed.
SQLite tables and CSV feeds; existing tables are left alone.
"""

from __future__ import annotations

import csv
import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cutover.migrate.mapping import FieldSpec, Mapping, as_mapping
from cutover.plan import LoadedPlan
from cutover.plan.models import MigrateStep, Store

DEFAULT_ROWS = 400


@dataclass(frozen=True)
class Seeded:
    store: str
    table: str
    rows: int
    path: str


def seed_stores(
    loaded: LoadedPlan,
    env: str,
    *,
    root: Path,
    rows: int = DEFAULT_ROWS,
    seed: int = 7,
    skip: set[str] | None = None,
) -> list[Seeded]:
    """Create and fill every migrate step's source that does not exist yet."""
    plan = loaded.plan
    environment = plan.environments[env]
    done: list[Seeded] = []
    seen: set[str] = set(skip or ())
    for system in plan.systems:
        for step in system.steps:
            if not isinstance(step, MigrateStep) or step.source in seen:
                continue
            seen.add(step.source)
            store = environment.stores[step.source]
            mapping = as_mapping(loaded.mapping(step))
            rng = random.Random(f"{seed}:{step.source}")
            seeded = _seed(store, step.source, mapping, root, rows, rng)
            if seeded is not None:
                done.append(seeded)
    return done


def _path(store: Store, root: Path) -> Path:
    path = Path(store.path or "")
    return path if path.is_absolute() else root / path


def _seed(
    store: Store, store_id: str, mapping: Mapping, root: Path, rows: int, rng: random.Random
) -> Seeded | None:
    columns = mapping.source.columns
    table = store.table or mapping.source.table
    data = [_row(mapping, i, rng) for i in range(1, rows + 1)]
    path = _path(store, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    if store.engine == "csv":
        if path.exists():
            return None
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(list(columns))
            writer.writerows(
                [[_csv(v, columns[c]) for c, v in zip(columns, r, strict=True)] for r in data]
            )
        return Seeded(store_id, table, rows, str(path))
    if store.engine != "sqlite":
        return None  # simulated environments use SQLite; real ones have real data
    with sqlite3.connect(path) as conn:
        exists = conn.execute(
            "select 1 from sqlite_master where type='table' and name=?", (table,)
        ).fetchone()
        if exists:
            return None
        declared = ", ".join(
            f'"{c}" {"TEXT" if t == "text" else "INTEGER"}'
            + (" PRIMARY KEY" if c == mapping.source.key else "")
            for c, t in columns.items()
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f'CREATE TABLE "{table}" ({declared})')
        marks = ", ".join("?" for _ in columns)
        conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', data)
    return Seeded(store_id, table, rows, str(path))


def _csv(value: Any, kind: str) -> str:
    if kind == "cents" and isinstance(value, int):
        sign = "-" if value < 0 else ""
        return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"
    return str(value)


def _specs(mapping: Mapping, column: str) -> list[FieldSpec]:
    return [spec for spec in mapping.fields.values() if spec.source == column]


def _row(mapping: Mapping, i: int, rng: random.Random) -> tuple[Any, ...]:
    out: list[Any] = []
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for column, kind in mapping.source.columns.items():
        specs = _specs(mapping, column)
        lookups = [k for s in specs if s.lookup for k in s.lookup]
        floor = max([s.min for s in specs if s.min is not None], default=0)
        if column == mapping.source.key:
            out.append(i if kind != "text" else f"{column.upper()}-{i:06d}")
        elif lookups:
            out.append(rng.choice(lookups))
        elif kind in ("integer", "cents"):
            if column.endswith("_id"):
                out.append(rng.randint(1, 5000))
            elif column == "granted":
                out.append(rng.randint(0, 1))
            elif "cents" in column or kind == "cents" or "points" in column:
                out.append(rng.randint(max(floor, 0), 600_000))
            else:
                out.append(rng.randint(max(floor, 0), 1000))
        elif column == "email" or any(s.pattern and "@" in s.pattern for s in specs):
            out.append(f"member{i}@example.com")
        elif column.endswith(("_at", "_on")) or column == "at":
            out.append((base + timedelta(minutes=rng.randint(0, 400_000))).isoformat())
        else:
            out.append(f"{column.replace('_', ' ')} {i}")
    return tuple(out)
