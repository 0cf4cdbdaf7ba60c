"""File feeds (case B): sample, full and delta CSV files loaded, verified, rejected rows accounted for."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from migrate_support import execute, rows_of

from cutover import migrate
from cutover.errors import StoreError, VerificationError
from cutover.migrate.progress import Progress
from cutover.plan.models import Store
from support import ROOT

FEED_MAPPING = ROOT / "plans" / "mappings" / "member-feed.yaml"
HEADER = [
    "member_number",
    "email",
    "first_name",
    "status_code",
    "points",
    "lifetime_points",
    "joined_on",
]


def feed_row(i: int, bump: int = 0) -> list[str]:
    cents = (i * 7919 + bump) % 300_000 - 500
    lifetime = (i * 104_729) % 400_000
    code = "ACS"[i % 3]
    return [
        str(i),
        f"Shopper{i}@Retail.example",
        f" Name{i} ",
        code,
        f"{Decimal(cents) / 100:.2f}",
        f"{lifetime / 100:.2f}",
        "2020-05-01",
    ]


def write_feed(
    path: Path, rows: list[list[str]], header: list[str] = HEADER, *, delta: bool = False
) -> Store:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return Store(engine="csv", path=str(path), feed="delta" if delta else None)


def want(row: list[str]) -> tuple[Any, ...]:
    """The new platform's row for a feed row, by the mapping's documented rules."""
    cents = int(Decimal(row[4]) * 100)
    lifetime = int(Decimal(row[5]) * 100)
    tier = "elite" if lifetime >= 250_000 else "vip" if lifetime >= 50_000 else "insider"
    status = {"A": "active", "S": "suspended", "C": "closed"}[row[3].strip().upper()]
    return (
        int(row[0]),
        row[1].strip().lower(),
        row[2].strip(),
        status,
        tier,
        cents // 100,
        cents % 100,
        lifetime,
        row[6],
    )


def stop_after_two_chunks(feed: Store, target: Store) -> None:
    """Load 50-row chunks and stop the load (as Ctrl-C would) after the second."""
    calls: list[Progress] = []

    def stop(p: Progress) -> None:
        calls.append(p)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate.run_copy(feed, target, FEED_MAPPING, chunk_rows=50, progress=stop)


BAD = [
    ["9001", "", "No", "A", "1.00", "1.00", "2020-01-01"],  # line: no email
    ["9002", "x@y.z", "Bad", "Q", "1.00", "1.00", "2020-01-01"],  # unknown status code
    ["9003", "x@y.z", "Bad", "A", "1.005", "1.00", "2020-01-01"],  # three decimals
    ["9004", "x@y.z", "Short"],  # too few fields
]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_sample_full_and_delta_feeds_land_and_verify(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> None:
    """The sample, then the full feed over it, then the delta: each verified; rejects name their lines."""
    if engine == "sqlite":
        target = Store(engine="sqlite", path=str(tmp_path / "platform.db"), table="members")
    else:
        dsn, schema = request.getfixturevalue("pg_schema")
        target = Store(engine="postgresql", dsn=dsn, table=f"{schema}.members")
    sample = write_feed(tmp_path / "sample.csv", [feed_row(i) for i in range(1, 51)] + BAD)
    report = migrate.run_copy(
        sample, target, FEED_MAPPING, rejects=tmp_path / "sample.rejects.jsonl"
    )
    assert (report.rows, report.rejected, report.path) == (50, 4, "python")
    rejects = [json.loads(x) for x in (tmp_path / "sample.rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (52, "email: missing (required)"),
        (53, "status: 'Q' is not in the lookup"),
        (54, "points: '1.005' is not a number with at most 2 decimals"),
        (55, "the line has 3 fields, the header 7"),
    ]
    assert migrate.verify(sample, target, FEED_MAPPING).ok

    full_rows = [feed_row(i, bump=3) for i in range(1, 501)]
    full = write_feed(tmp_path / "full.csv", full_rows)
    assert migrate.run_copy(full, target, FEED_MAPPING, chunk_rows=64).rows == 500
    verified = migrate.verify(full, target, FEED_MAPPING)
    assert verified.ok and verified.legacy_cents == verified.new_cents and verified.members == 500
    delta_rows = [feed_row(i, bump=11) for i in range(480, 530)] + [
        feed_row(7, bump=99),
        feed_row(7, bump=5),
    ]
    delta = write_feed(tmp_path / "delta.csv", delta_rows, delta=True)
    migrate.run_copy(delta, target, FEED_MAPPING)
    assert migrate.verify(delta, target, FEED_MAPPING).ok
    with pytest.raises(
        VerificationError
    ):  # the delta changed rows of the full feed: no longer equal
        migrate.verify(full, target, FEED_MAPPING)
    expected = {
        int(r[0]): want(r) for r in full_rows + delta_rows
    }  # later rows win, as in the files
    assert rows_of(target) == {**{k: v for k, v in rows_of(target).items() if k > 9000}, **expected}


def test_schema_drift_between_sample_and_full_feed_is_refused(tmp_path: Path) -> None:
    """A full feed whose header differs from the agreed layout: one clear error, target untouched."""
    target = Store(engine="sqlite", path=str(tmp_path / "platform.db"), table="members")
    migrate.run_copy(write_feed(tmp_path / "sample.csv", [feed_row(1)]), target, FEED_MAPPING)
    before = rows_of(target)
    drifted = [*HEADER[:4], "points_balance", *HEADER[5:], "tier"]
    full = write_feed(
        tmp_path / "full.csv", [[*feed_row(i), "gold"] for i in range(1, 5)], header=drifted
    )
    with pytest.raises(StoreError) as caught:
        migrate.run_copy(full, target, FEED_MAPPING)
    message = str(caught.value)
    assert "schema drift" in message and "missing 'points'" in message
    assert "unexpected 'points_balance', 'tier'" in message and caught.value.exit_code == 2
    assert rows_of(target) == before


def test_a_feed_load_stopped_midway_resumes_after_the_last_chunk(tmp_path: Path) -> None:
    """Stopped after two chunks, the load resumes; no rejected line is recorded twice."""
    target = Store(engine="sqlite", path=str(tmp_path / "platform.db"), table="members")
    rows = [feed_row(i) for i in range(1, 301)]
    rows[10] = BAD[1]
    rows[250] = BAD[0]
    feed = write_feed(tmp_path / "full.csv", rows)
    stop_after_two_chunks(feed, target)
    assert len(rows_of(target)) == 99
    report = migrate.run_copy(feed, target, FEED_MAPPING, chunk_rows=50)
    assert report.resumed and (report.rows, report.rejected) == (298, 2)
    assert migrate.verify(feed, target, FEED_MAPPING).ok


def test_a_feed_cannot_be_caught_up(tmp_path: Path) -> None:
    """Feeds have no changelog: a delta is its own file, said plainly."""
    target = Store(engine="sqlite", path=str(tmp_path / "platform.db"), table="members")
    feed = write_feed(tmp_path / "sample.csv", [feed_row(1)])
    migrate.run_copy(feed, target, FEED_MAPPING)
    with pytest.raises(Exception, match="delta file as its own feed"):
        migrate.catch_up(feed, target, FEED_MAPPING)


def test_a_delta_file_deletes_the_keys_it_marks(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A delta's change column: D deletes the key (only the key is needed), I/U/empty upsert,
    the last line per key wins across chunks, an unknown change or a delete without a key
    is rejected with its line; verification proves the deleted keys gone."""
    dsn, schema = request.getfixturevalue("pg_schema")
    target = Store(engine="postgresql", dsn=dsn, table=f"{schema}.members")
    full = write_feed(tmp_path / "full.csv", [feed_row(i) for i in range(1, 201)])
    migrate.run_copy(full, target, FEED_MAPPING)
    blank = ["", "", "", "", "", ""]
    delta_rows = [
        [*feed_row(5, bump=1), "U"],
        ["10", *blank, "D"],
        ["11", *blank, "D"],
        [*feed_row(12, bump=2), ""],
        ["12", *blank, "D"],  # deleted after its update: gone
        ["13", *blank, "D"],
        *[
            [*feed_row(i, bump=3), "U"] for i in range(100, 110)
        ],  # pushes 13's re-insert to a later chunk
        [*feed_row(13, bump=4), "I"],  # re-inserted after its delete: back
        [*feed_row(300), "I"],
        ["14", *blank, "X"],  # line 20: unknown change
        ["", *blank, "D"],  # line 21: a delete without a key
    ]
    delta = write_feed(tmp_path / "delta.csv", delta_rows, header=[*HEADER, "change"])
    report = migrate.run_copy(
        delta, target, FEED_MAPPING, chunk_rows=8, rejects=tmp_path / "r.jsonl"
    )
    assert report.rejected == 2
    rejects = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (20, "change: 'X' is neither an upsert (I, U) nor a delete (D)"),
        (21, "member_number: missing (a delete needs the key)"),
    ]
    rows = rows_of(target)
    assert not {10, 11, 12} & set(rows) and 14 in rows
    assert rows[13] == want(feed_row(13, bump=4)) and rows[300] == want(feed_row(300))
    assert rows[5] == want(feed_row(5, bump=1)) and len(rows) == 200 - 3 + 1
    assert migrate.verify(delta, target, FEED_MAPPING).ok
    execute(
        target,
        "INSERT INTO {t} SELECT 11, email, first_name, status, tier, points, remainder_cents, "
        "lifetime_cents, joined_on FROM {t} WHERE member_id = 14",
    )
    with pytest.raises(
        VerificationError, match="1 of the 3 keys the feed deletes are still in the target"
    ):
        migrate.verify(delta, target, FEED_MAPPING)


def test_the_product_feed_lands_its_looked_up_flag_as_a_number_and_verifies(
    tmp_path: Path,
) -> None:
    """`active: {transform: [trim, upper], lookup: {Y: 1, N: 0}}`: the column is an integer.

    The transform shapes the lookup's key, the lookup gives the value: the target column
    was made TEXT, so the verify found '1' where the mapping says 1 and refused the feed.
    """
    mapping = ROOT / "plans" / "mappings" / "product-feed.yaml"
    header = ["sku", "name", "category", "price", "active"]
    rows = [
        [f"SKU-{i:04d}", f"Item {i}", " Home ", f"{i}.50", " y" if i % 2 else "N"]
        for i in range(1, 21)
    ]
    feed = write_feed(tmp_path / "products.csv", rows, header)
    target = Store(engine="sqlite", path=str(tmp_path / "platform.db"), table="products")
    assert migrate.run_copy(feed, target, mapping).rows == 20
    assert migrate.verify(feed, target, mapping).ok
    flags = {row[0]: row[-1] for row in rows_of(target).values()}
    assert flags["SKU-0001"] == 1 and flags["SKU-0002"] == 0


# ------------------------------------------------- strict, line-exact parsing (issue 19)


def _lines(rows: list[list[str]]) -> list[bytes]:
    """Each row as the CSV line a writer would give it."""
    out: list[bytes] = []
    for row in rows:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(row)
        out.append(buffer.getvalue().encode())
    return out


def _raw_feed(path: Path, lines: list[bytes], *, bom: bool = False) -> Store:
    head = (",".join(HEADER) + "\n").encode()
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + head + b"".join(lines))
    return Store(engine="csv", path=str(path))


def _target(request: pytest.FixtureRequest, tmp_path: Path, engine: str) -> Store:
    if engine == "sqlite":
        return Store(engine="sqlite", path=str(tmp_path / "platform.db"), table="members")
    dsn, schema = request.getfixturevalue("pg_schema")
    return Store(engine="postgresql", dsn=dsn, table=f"{schema}.members")


def _rejects(path: Path) -> list[tuple[int, str]]:
    return [(r["line"], r["reason"]) for r in map(json.loads, path.read_text().splitlines())]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_every_line_is_loaded_or_rejected_with_its_reason(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> None:
    """A stray quote, a NUL byte, bad UTF-8, an empty line and a long field each reject
    their own line only; every other member lands and the feed verifies."""
    target = _target(request, tmp_path, engine)
    lines = _lines([feed_row(i) for i in range(1, 13)])
    lines[3] = b'4,"m4@example.com,Four,A,1.00,1.00,2020-01-01\n'  # line 5: a stray quote
    lines[5] = lines[5].replace(b"Name6", b"Na\x00me6")  # line 7: a NUL byte
    lines[6] = lines[6].replace(b"Name7", b"Na\xffme7")  # line 8: not UTF-8
    lines[8] = b"\n"  # line 10: empty
    lines[9] = lines[9].replace(b"Name10", b"N" * 200_000)  # line 11: a field too long
    feed = _raw_feed(tmp_path / "members.csv", lines, bom=True)
    out = tmp_path / "rejects.jsonl"
    report = migrate.run_copy(feed, target, FEED_MAPPING, rejects=out)
    assert (report.rows, report.rejected) == (7, 5)
    assert _rejects(out) == [
        (5, 'a quoted field is not closed on its line (a stray `"`?)'),
        (7, "a NUL byte in the line"),
        (8, "not UTF-8 text (byte 30 of the line)"),
        (10, "an empty line"),
        (11, "a field is longer than 131,072 characters"),
    ]
    assert sorted(rows_of(target)) == [1, 2, 3, 5, 8, 11, 12]
    verified = migrate.verify(feed, target, FEED_MAPPING)
    assert verified.ok and verified.rejected_rows == verified.rejects_recorded == 5


def test_a_line_over_the_limit_is_rejected_without_holding_it(tmp_path: Path) -> None:
    from cutover.migrate.feeds import MAX_LINE_BYTES

    target = Store(engine="sqlite", path=str(tmp_path / "platform.db"), table="members")
    lines = _lines([feed_row(i) for i in range(1, 4)])
    lines[1] = b"2," + b"x" * (MAX_LINE_BYTES + 10) + b"\n"
    feed = _raw_feed(tmp_path / "members.csv", lines)
    out = tmp_path / "rejects.jsonl"
    assert migrate.run_copy(feed, target, FEED_MAPPING, rejects=out).rows == 2
    assert _rejects(out) == [(3, f"the line is longer than {MAX_LINE_BYTES:,} bytes")]
    assert migrate.verify(feed, target, FEED_MAPPING).ok


def test_a_key_twice_in_a_full_feed_is_rejected_with_both_lines(tmp_path: Path) -> None:
    """A full feed has one line per key: the second is rejected naming the first; the
    same file declared a delta keeps the last line, as documented."""
    rows = [feed_row(i) for i in range(1, 6)] + [feed_row(2, bump=40)]
    full = write_feed(tmp_path / "full.csv", rows)
    target = Store(engine="sqlite", path=str(tmp_path / "full.db"), table="members")
    out = tmp_path / "rejects.jsonl"
    assert migrate.run_copy(full, target, FEED_MAPPING, rejects=out, chunk_rows=2).rows == 5
    assert _rejects(out) == [
        (
            7,
            "member_id 2 is on line 3 too (a full feed has one line per key; a delta: `feed: delta`)",
        )
    ]
    assert rows_of(target)[2] == want(rows[1])
    assert migrate.verify(full, target, FEED_MAPPING).ok

    delta = write_feed(tmp_path / "delta.csv", rows, delta=True)
    other = Store(engine="sqlite", path=str(tmp_path / "delta.db"), table="members")
    assert migrate.run_copy(delta, other, FEED_MAPPING).rejected == 0
    assert rows_of(other)[2] == want(rows[-1])
    assert migrate.verify(delta, other, FEED_MAPPING).ok


def test_a_resumed_full_feed_still_knows_the_keys_before_the_stop(tmp_path: Path) -> None:
    rows = [feed_row(i) for i in range(1, 121)] + [feed_row(3, bump=1)]
    feed = write_feed(tmp_path / "full.csv", rows)
    target = Store(engine="sqlite", path=str(tmp_path / "platform.db"), table="members")
    stop_after_two_chunks(feed, target)
    report = migrate.run_copy(feed, target, FEED_MAPPING, chunk_rows=50)
    assert report.resumed and report.rejected == 1
    assert rows_of(target)[3] == want(rows[2])
    assert migrate.verify(feed, target, FEED_MAPPING).ok


def test_a_parser_that_loses_lines_can_never_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verification counts the file's lines from its bytes, apart from the parser: a
    reader that swallows lines (as a stray quote once did) fails verification."""
    from cutover.migrate.feeds import Feed

    feed = write_feed(tmp_path / "full.csv", [feed_row(i) for i in range(1, 11)])
    target = Store(engine="sqlite", path=str(tmp_path / "platform.db"), table="members")
    honest = Feed.rows

    def lossy(self: Feed, start: int = 0) -> Any:
        return ((n, r) for n, r in honest(self, start) if n not in (6, 7, 8))

    monkeypatch.setattr(Feed, "rows", lossy)
    migrate.run_copy(feed, target, FEED_MAPPING)
    with pytest.raises(VerificationError) as caught:
        migrate.verify(feed, target, FEED_MAPPING)
    assert "lines: the file has 10 lines after its header" in str(caught.value)
