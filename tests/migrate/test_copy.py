"""The snapshot copy: every row lands as the program says, by either path, and a crash resumes exactly."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from migrate_support import MEMBERS_MAPPING, execute, expected_table, rows_of

from cutover import migrate
from cutover.errors import UsageError
from cutover.migrate.migration import Migration
from cutover.migrate.progress import Progress
from cutover.migrate.snapshot import copy_slices
from cutover.plan.models import Store

BAD_ROWS = [
    (90_001, "", "active", 100, 100, "x"),
    (90_002, "ok@x.y", "frozen", 100, 100, "x"),
    (90_003, "neg@x.y", "active", 100, -1, "x"),
]


def _add_bad_rows(store: Store) -> None:
    for row in BAD_ROWS:
        execute(store, "INSERT INTO {t} VALUES (?, ?, ?, ?, ?, ?)", row)


class _Crashing:
    """A governor that raises after `chunks` chunks: a crash at a chunk boundary."""

    ratio = 0.0
    probe = None

    def __init__(self, chunks: int) -> None:
        self.left = chunks

    def pause(self, chunk_seconds: float) -> float:
        self.left -= 1
        if self.left <= 0:
            raise KeyboardInterrupt("simulated crash")
        return 0.0


@dataclass(frozen=True)
class CrashAfter(migrate.Throttle):
    """A throttle whose governor crashes the copy after `chunks` chunks."""

    chunks: int = 3

    def start(self, probe: Any) -> Any:
        return _Crashing(self.chunks)


PAIRS = [
    ("sqlite", "sqlite", "auto", "sql"),
    ("sqlite", "sqlite", "python", "python"),
    ("postgresql", "postgresql", "auto", "sql"),
    ("postgresql", "postgresql", "sql", "sql"),
    ("postgresql", "postgresql", "python", "python"),
    ("sqlite", "postgresql", "auto", "python"),
    ("postgresql", "sqlite", "auto", "python"),
]


@pytest.fixture
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, tuple[Store, Store]]:
    """Both engines' legacy stores and target names, built only when a test asks for them."""
    return {
        "sqlite": request.getfixturevalue("sqlite_pair"),
        "postgresql": request.getfixturevalue("pg_pair"),
    }


@pytest.mark.parametrize(("src_engine", "dst_engine", "asked", "ran"), PAIRS)
def test_every_row_lands_as_the_program_says(
    request: pytest.FixtureRequest, src_engine: str, dst_engine: str, asked: str, ran: str
) -> None:
    """Target rows equal convert/tier_for of the source rows, bad rows rejected, path as documented."""
    source = request.getfixturevalue("sqlite_pair" if src_engine == "sqlite" else "pg_pair")[0]
    target = request.getfixturevalue("sqlite_pair" if dst_engine == "sqlite" else "pg_pair")[1]
    _add_bad_rows(source)
    # two streams into PostgreSQL: processes on the python path, threads on the sql path
    workers = 2 if dst_engine == "postgresql" and asked != "auto" else None
    seen: list[Progress] = []
    report = migrate.run_copy(
        source,
        target,
        MEMBERS_MAPPING,
        path=asked,
        chunk_rows=700,
        workers=workers,  # type: ignore[arg-type]
        throttle=migrate.Throttle.off(),
        progress=seen.append,
    )
    assert report.path == ran and report.rejected == len(BAD_ROWS)
    want = expected_table(rows_of(source).values())
    assert rows_of(target) == want
    assert report.rows == len(want) == 3_000
    assert seen and seen[-1].rows_done == 3_003 and seen[-1].path == ran
    assert migrate.verify(source, target, MEMBERS_MAPPING).ok


def test_the_reject_file_names_each_row_and_reason(
    sqlite_pair: tuple[Store, Store], tmp_path: Path
) -> None:
    """Rows that fail cleansing go to the reject file, sorted by key, with the source row."""
    source, target = sqlite_pair
    _add_bad_rows(source)
    migrate.run_copy(source, target, MEMBERS_MAPPING, rejects=tmp_path / "rejects.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [(r["key"], r["reason"]) for r in lines] == [
        (90_001, "email: missing (required)"),
        (90_002, "status: 'frozen' is not in the lookup"),
        (90_003, "lifetime_cents: -1 is below the minimum 0"),
    ]
    assert lines[1]["row"]["status"] == "frozen"


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
@pytest.mark.parametrize("path", ["sql", "python"])
def test_a_crashed_copy_resumes_without_duplicates_or_loss(
    request: pytest.FixtureRequest, engine: str, path: str
) -> None:
    """Stopped after three chunks, a second run resumes from the checkpoint and ends exact."""
    source, target = request.getfixturevalue("sqlite_pair" if engine == "sqlite" else "pg_pair")
    with pytest.raises(KeyboardInterrupt):
        migrate.run_copy(
            source,
            target,
            MEMBERS_MAPPING,
            path=path,
            chunk_rows=400,
            workers=1,
            throttle=CrashAfter(chunks=3),
        )  # type: ignore[arg-type]
    assert len(rows_of(target)) == 1_200
    report = migrate.run_copy(source, target, MEMBERS_MAPPING, path=path, chunk_rows=400)  # type: ignore[arg-type]
    assert report.resumed and report.rows == 3_000
    assert rows_of(target) == expected_table(rows_of(source).values())
    again = migrate.run_copy(source, target, MEMBERS_MAPPING, path=path)  # type: ignore[arg-type]
    assert again.resumed and again.rows == 3_000  # done: nothing copied twice


def test_two_workers_on_one_slice_never_write_a_chunk_twice(pg_pair: tuple[Store, Store]) -> None:
    """Two processes' worth of connections racing over the same slice: each chunk lands once."""
    source, target = pg_pair
    with Migration.open(source, target, MEMBERS_MAPPING) as m:
        m.prepare()
        m.checkpoints.create(m.log.safe_position(), m.path)
        m.checkpoints.plan_slices([None, None])
    errors: list[BaseException] = []

    def race() -> None:
        try:
            with Migration.open(source, target, MEMBERS_MAPPING, path="python") as m:
                m.source_started()
                copy_slices(m, [0], 100, migrate.Throttle.off())
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert rows_of(target) == expected_table(rows_of(source).values())


def test_the_sql_path_is_refused_where_it_cannot_run(
    tmp_path: Path, pg_pair: tuple[Store, Store]
) -> None:
    """Asking for `sql` across engines is a usage error that says why."""
    source, _ = pg_pair
    target = Store(engine="sqlite", path=str(tmp_path / "t.db"), table="members")
    with pytest.raises(UsageError, match="source is postgresql and target is sqlite"):
        migrate.run_copy(source, target, MEMBERS_MAPPING, path="sql")
