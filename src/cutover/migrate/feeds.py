"""File feeds as a source (case B): a sample file, a full feed or a delta file, as CSV.

A feed is read in file order; its checkpoint is the number of data rows consumed,
so a killed load resumes after the last committed chunk. Its header must be exactly
the mapping's `source.columns` (the layout agreed on the sample file): a renamed,
missing or extra column is schema drift, refused before anything is written. An
empty field is NULL. A file changed between runs is refused too (its fingerprint is
part of the job's identity).

A delta file may say what each row is (the mapping's `source.operation`): a column,
allowed in the header besides `source.columns`, whose value makes the row an upsert
(`I`, `U` or empty by default) or a delete of its key (`D`); a delete needs only the
key. Any other value rejects the line. Without that column every row is an upsert.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cutover.errors import StoreError
from cutover.migrate.mapping import Mapping
from cutover.migrate.transform import Reject, parse_int
from cutover.plan.models import Store

FINGERPRINT_BYTES = 1 << 20
"""Bytes hashed from each end of a feed for its fingerprint (with its size)."""


@dataclass
class Feed:
    """A CSV feed file checked against a mapping."""

    path: Path
    label: str
    header: list[str]
    fingerprint: str
    op_at: int | None = None
    """Where the change column is in the header (None: every row is an upsert)."""

    def rows(self, start: int = 0) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) of data rows, skipping the first `start` of them."""
        with self.path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for index, fields in enumerate(reader):
                if index < start:
                    continue
                yield reader.line_num, fields

    def count(self) -> int:
        with self.path.open("rb") as handle:
            return max(
                0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1
            )


def open_feed(config: Store, mapping: Mapping, label: str | None = None) -> Feed:
    """Open a CSV feed and check its header against the mapping; StoreError otherwise."""
    assert config.path is not None
    path = Path(config.path)
    name = label or f"csv:{config.path}"
    if not path.is_file():
        raise StoreError("no such feed file" if not path.exists() else "is not a file", store=name)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError:
        raise StoreError("not UTF-8 text", store=name) from None
    except csv.Error as exc:
        raise StoreError(f"not a CSV file: {exc}", store=name) from None
    if not header:
        raise StoreError("the feed is empty: no header line", store=name)
    header = [h.strip() for h in header]
    expected = list(mapping.source.columns)
    op = mapping.source.operation
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected and (op is None or c != op.column)]
    if missing or extra or len(set(header)) != len(header):
        parts = []
        if missing:
            parts.append("missing " + ", ".join(repr(c) for c in missing))
        if extra:
            parts.append("unexpected " + ", ".join(repr(c) for c in extra))
        if len(set(header)) != len(header):
            parts.append("a column appears twice")
        raise StoreError(
            f"schema drift: the header differs from the mapping's source.columns "
            f"(the agreed layout of {mapping.path}): {'; '.join(parts)}",
            store=name,
        )
    op_at = header.index(op.column) if op is not None and op.column in header else None
    return Feed(path, name, header, _fingerprint(path), op_at)


def deleted_key(feed: Feed, mapping: Mapping, fields: list[str]) -> tuple[bool, object]:
    """Whether a line deletes its key, and the target key it deletes (or the reason it is
    rejected, as a `Reject`). A line that is not a delete gives (False, None)."""
    op = mapping.source.operation
    if op is None or feed.op_at is None:
        return False, None
    value = fields[feed.op_at].strip()
    if value in op.upsert or value == "":
        return False, None
    if value not in op.delete:
        return True, Reject(
            f"{op.column}: {value!r} is neither an upsert ({', '.join(op.upsert)}) "
            f"nor a delete ({', '.join(op.delete)})"
        )
    key = mapping.source.key
    text = fields[feed.header.index(key)].strip()
    if text == "":
        return True, Reject(f"{key}: missing (a delete needs the key)")
    if mapping.source.columns[key] == "integer":
        number = parse_int(text)
        if number is None:
            return True, Reject(f"{key}: {text!r} is not an integer")
        return True, mapping.target_key(number)
    return True, mapping.target_key(text)


def _fingerprint(path: Path) -> str:
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(FINGERPRINT_BYTES))
        if size > FINGERPRINT_BYTES:
            handle.seek(max(FINGERPRINT_BYTES, size - FINGERPRINT_BYTES))
            digest.update(handle.read())
    return digest.hexdigest()[:16]


def reorder(feed: Feed, mapping: Mapping) -> list[int] | None:
    """Positions of the mapping's source columns in the feed, or None if the feed has
    exactly those columns in that order (no change column either)."""
    order = [feed.header.index(c) for c in mapping.source.columns]
    same = order == list(range(len(order))) and len(feed.header) == len(order)
    return None if same else order
