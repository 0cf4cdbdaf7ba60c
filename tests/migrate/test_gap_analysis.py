"""The gap analysis (`cutover mapping check`): what a mapping does to a sample, as reviewers read it.

Samples are real CSV files, SQLite files and a PostgreSQL table; the mappings are
the repository's or small ones written here. Each test says what the report must show.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from pathlib import Path

import pytest

from cutover.drill.seed import seed_stores
from cutover.migrate.gap_analysis import analyse_feed, analyse_table
from cutover.migrate.gap_counter import rule_of
from cutover.plan import load_plan
from cutover.plan.models import Store
from support import PLANS, run_cli

MEMBER_FEED = PLANS / "mappings" / "member-feed.yaml"
HEADER = ["member_number", "email", "first_name", "status_code", "points", "lifetime_points"]

SMALL_MAPPING = """\
source:
  table: members
  key: id
  columns: {id: integer, email: text, status: text, balance: integer, note: text, legacy_code: text}
target: {table: members, key: member_id}
fields:
  member_id: id
  email: {from: email, required: true}
  status: {from: status, lookup: {A: active, C: closed}, default: unknown}
  points: {from: balance, points: whole}
  remainder_cents: {from: balance, points: remainder}
  balance_cap: {from: balance, max: 100000}
  comment: {from: note}
"""


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)
    return path


def test_the_platform_migration_sample_feed_shows_each_planted_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cutover mapping check` on platform-migration.yaml's sample feed (seeded as drills seed
    it) prints the report; an unmapped field, a rejecting row and a rounding remainder
    planted in it are each reported."""
    monkeypatch.chdir(tmp_path)
    loaded = load_plan(PLANS / "platform-migration.yaml")
    seeded = seed_stores(loaded, "staging", root=tmp_path, rows=40, skip=_all_but_sample(loaded))
    sample = Path(seeded[0].path)
    args = ["mapping", "check", str(MEMBER_FEED), "--plan", str(PLANS / "platform-migration.yaml")]
    args += ["--env", "staging", "--store", "sample-feed"]
    clean = run_cli(*args, "--strict")
    assert clean.code == 0, clean.output
    assert "40 rows: 40 accepted, 0 rejected" in clean.out and "no gaps" in clean.out

    rows = list(csv.reader(sample.open(newline="")))
    rows[0].append("phone")  # a field the mapping does not know
    for row in rows[1:]:
        row.append("555-0100")
        row[4] = f"{int(row[4].split('.')[0])}.00"  # whole points: no remainder anywhere ...
    rows[7][4] = "10.37"  # ... but here: 37 centipoints carried
    rows[12][1] = ""  # no email: rejected
    write_csv(sample, rows[0], rows[1:])

    result = run_cli(*args, "--format", "json")
    assert result.code == 0, result.output
    report = json.loads(result.out)
    phone = next(f for f in report["fields"] if f["name"] == "phone")
    assert phone["status"] == "not in the mapping"
    [rejected] = report["rejects"]
    assert rejected["rule"] == "email: missing (required)" and rejected["rows"] == 1
    assert rejected["examples"] == [f"key {rows[12][0]!r} (line 13)"]
    [pair] = report["remainders"]
    assert pair["remainder_cents"] == 37 and pair["with_remainder"] == 1 and pair["conserved"]
    text = run_cli(*args, "--strict")
    assert text.code == 1
    assert "phone" in text.out and "not in source.columns" in text.out
    assert "email: missing (required)" in text.out and "(line 13)" in text.out
    assert "0.37 (1 row)" in text.out


def _all_but_sample(loaded: object) -> set[str]:
    from cutover.plan.models import MigrateStep

    plan = loaded.plan  # type: ignore[attr-defined]
    steps = [s for sys_ in plan.systems for s in sys_.steps if isinstance(s, MigrateStep)]
    return {s.source for s in steps if s.source != "sample-feed"}


def test_fields_targets_defaults_and_ranges(tmp_path: Path) -> None:
    """Unmapped and renamed source fields, defaulted and empty target columns, a range
    reject and a type clash each land in their part of the report."""
    mapping = tmp_path / "small.yaml"
    mapping.write_text(SMALL_MAPPING)
    rows: list[list[object]] = [
        [1, "a@x", "A", "1050", "", "L1"],
        [2, "b@x", "Z", "200", "", "L2"],  # status Z: the default
        [3, "c@x", "C", "100001", "", "L3"],  # above the maximum
        [4, "d@x", "A", "12x", "", "L4"],  # not an integer
        [5, "e@x", "C", "-150", "", "L5"],
    ]
    header = ["id", "email", "status", "balance", "note", "legacy_code"]
    report = analyse_feed(mapping, write_csv(tmp_path / "s.csv", header, rows))
    fields = {f.name: f.status for f in report.fields}
    assert fields == {
        "id": "renamed",
        "email": "mapped",
        "status": "mapped",
        "balance": "renamed",
        "note": "renamed",
        "legacy_code": "unmapped",
    }
    targets = {t.name: t for t in report.targets}
    assert targets["status"].defaulted == 1 and targets["status"].status == "defaulted"
    assert targets["status"].values == {"active": 1, "unknown": 1, "closed": 1}
    assert targets["comment"].status == "empty"
    assert (targets["points"].low, targets["points"].high) == (-2, 10)
    rules = {r.rule: (r.group, r.rows) for r in report.rejects}
    assert rules == {
        "balance_cap: above the maximum 100000": ("range", 1),
        "balance: not an integer": ("type", 1),
    }
    [pair] = report.remainders
    assert (pair.legacy_cents, pair.whole_points, pair.remainder_cents) == (1100, 10, 100)
    assert pair.conserved and pair.with_remainder == 2
    gaps = report.gaps()
    assert "source field 'legacy_code': unmapped" in gaps
    assert "target column 'comment': empty" in gaps


def test_a_big_file_counted_in_parts_says_what_one_part_says(tmp_path: Path) -> None:
    """Cut into many parts (two worker processes), a sample with quoted fields, repeated
    keys across parts and rejects gives the same report, line numbers included."""
    rows: list[list[object]] = []
    for i in range(1, 400):
        email = "" if i % 37 == 0 else f"m{i}@x.org"
        name = f"Surname, {i}" if i % 5 == 0 else f'Name "{i}"'
        rows.append([i % 350 or 1, email, name, "A", f"{i}.{i % 100:02d}", "1.00"])
    sample = write_csv(tmp_path / "parts.csv", [*HEADER, "joined_on"], [[*r, "x"] for r in rows])
    whole = analyse_feed(MEMBER_FEED, sample, workers=1).to_dict()
    parts = analyse_feed(MEMBER_FEED, sample, workers=2, part_bytes=700).to_dict()
    for report in (whole, parts):
        report.pop("seconds")
    assert parts == whole
    keys = [i % 350 or 1 for i in range(1, 400) if i % 37]
    assert whole["duplicate_keys"] == len(keys) - len(set(keys)) > 40
    assert whole["rejected"] == 10
    email = next(r for r in whole["rejects"] if r["rule"] == "email: missing (required)")
    assert email["examples"][0] == "key '37' (line 38)"


def test_a_sqlite_table_with_a_type_clash(tmp_path: Path) -> None:
    """A table is read in key order through the typed transform; a column of another type
    than the mapping's is a clash, read as empty."""
    path = tmp_path / "legacy.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE members (member_id INTEGER PRIMARY KEY, email TEXT, status TEXT, "
            "points_cents INTEGER, lifetime_cents INTEGER, updated_at INTEGER)"
        )
        conn.executemany(
            "INSERT INTO members VALUES (?, ?, ?, ?, ?, ?)",
            [(i, f"M{i}@X" if i != 3 else None, "active", 1000 + i, 5, i) for i in range(1, 8)],
        )
    store = Store(engine="sqlite", path=str(path), table="members")
    report = analyse_table(PLANS / "mappings" / "members.yaml", store, chunk_rows=2)
    assert (report.rows, report.accepted, report.rejected) == (7, 6, 1)
    assert report.rejects[0].examples == ["key 3"]
    assert any("'updated_at' is integer in the store" in c for c in report.clashes)
    assert next(f for f in report.fields if f.name == "updated_at").status == "missing"
    assert report.remainders[0].remainder_cents == sum(i for i in range(1, 8) if i != 3)


def test_a_postgresql_table(pg_schema: tuple[str, str]) -> None:
    """The same analysis reads a PostgreSQL table (bytewise key order, chunked)."""
    import psycopg

    dsn, schema = pg_schema
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{schema}".members (member_id bigint primary key, email text, '
            "status text, points_cents bigint, lifetime_cents bigint, updated_at text)"
        )
        for i in range(1, 6):
            status = "frozen" if i == 4 else "active"
            conn.execute(
                f'INSERT INTO "{schema}".members VALUES (%s, %s, %s, %s, %s, %s)',
                (i, f"m{i}@x", status, 250 * i + 1, 10, "t"),
            )
    store = Store(engine="postgresql", dsn=dsn, table=f"{schema}.members")
    report = analyse_table(PLANS / "mappings" / "members.yaml", store, chunk_rows=2)
    assert (report.rows, report.accepted) == (5, 4)
    assert report.rejects[0].rule == "status: not in the lookup"
    assert report.remainders[0].remainder_cents == 51 + 1 + 51 + 51 and not report.clashes


def test_reject_reasons_name_their_rule() -> None:
    """A reject reason without its quoted value names the rule; each is in its group."""
    assert rule_of("email: 'x y' does not match the pattern") == (
        "email: does not match the pattern",
        "cleansing",
    )
    assert rule_of("status: 'it''s' is not in the lookup") == (
        "status: not in the lookup",
        "cleansing",
    )
    assert rule_of("lifetime_cents: -5 is below the minimum 0") == (
        "lifetime_cents: below the minimum 0",
        "range",
    )
    assert rule_of("points: '1,5' is not a number with at most 2 decimals")[1] == "type"
    assert rule_of("the line has 3 fields, the header 7")[1] == "layout"
    assert rule_of("change: 'X' is neither an upsert (I, U) nor a delete (D)") == (
        "change: not a known change code",
        "layout",
    )


def test_the_command_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    """Bad input is one line and exit 2: both kinds of sample, none, a missing sample, a
    FIFO as the mapping, a mapping over 5 MiB, an unknown store."""
    sample = write_csv(tmp_path / "s.csv", HEADER, [])
    cases = [
        ["--sample", str(sample), "--env", "staging"],
        [],
        ["--sample", str(tmp_path / "nope.csv")],
        ["--plan", str(PLANS / "platform-migration.yaml"), "--env", "staging", "--store", "nope"],
        ["--plan", str(PLANS / "platform-migration.yaml"), "--env", "qa", "--store", "full-feed"],
    ]
    for extra in cases:
        result = run_cli("mapping", "check", str(MEMBER_FEED), *extra)
        assert result.code == 2, (extra, result.output)
        assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.output
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    big = tmp_path / "big.yaml"
    big.write_text("description: " + "x" * (5 * 1024 * 1024) + "\n")
    for mapping, says in ((fifo, "is not a regular file"), (big, "MiB limit")):
        result = run_cli("mapping", "check", str(mapping), "--sample", str(sample))
        assert result.code == 2 and says in result.err and result.err.startswith(f"{mapping}:1:")


def test_markdown_for_the_sign_off(tmp_path: Path) -> None:
    """The markdown report has a heading, the sections as tables, and the gaps listed."""
    rows: list[list[object]] = [[1, "", "A", "A", "1.50", "2.00", "2027-01-01"]]
    sample = write_csv(tmp_path / "s.csv", [*HEADER, "joined_on"], rows)
    result = run_cli(
        "mapping", "check", str(MEMBER_FEED), "--sample", str(sample), "-f", "markdown"
    )
    assert result.code == 0
    out = result.out
    assert out.startswith(f"## Gap analysis: `{MEMBER_FEED}`")
    for heading in ("### Source fields", "### Target columns", "### Rejected rows, by rule"):
        assert heading in out
    assert "| email: missing (required) | cleansing | 1 | key '1' (line 2) |" in out
    assert "### Gaps" in out


def test_a_bad_line_in_a_workers_part_is_rejected_with_its_line(tmp_path: Path) -> None:
    """Text that is not UTF-8 in a part counted by a worker process is that line's reject,
    named by its line, as when one process reads it all (the loader rejects it alike)."""
    lines = [",".join([*HEADER, "joined_on"])]
    lines += [f"{i},m{i}@x,N,A,1.00,2.00,d" for i in range(1, 300)]
    data = ("\n".join(lines) + "\n").encode()
    sample = tmp_path / "bad.csv"
    sample.write_bytes(data.replace(b"m250@x", b"m250@\xff"))
    for workers, part_bytes in ((2, 2000), (1, 1 << 20)):
        report = analyse_feed(MEMBER_FEED, sample, workers=workers, part_bytes=part_bytes)
        assert (report.rows, report.rejected) == (299, 1)
        assert report.rejects[0].rule == "not UTF-8 text (byte 10 of the line)"
        assert report.rejects[0].examples == ["no key (line 251)"]
