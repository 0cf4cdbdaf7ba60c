"""File feeds as a source (case B): a sample file, a full feed or a delta file, as CSV.

A feed is read in file order; its checkpoint is the number of data rows consumed,
so a killed load resumes after the last committed chunk. Its header must be exactly
the mapping's `source.columns` (the layout agreed on the sample file): a renamed,
missing or extra column is schema drift, refused before anything is written. An
empty field is NULL. A file changed between runs is refused too (its fingerprint is
part of the job's identity).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cutover.errors import StoreError
from cutover.migrate.mapping import Mapping
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
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
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
    return Feed(path, name, header, _fingerprint(path))


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
    """Positions of the mapping's source columns in the feed, or None if already in order."""
    order = [feed.header.index(c) for c in mapping.source.columns]
    return None if order == list(range(len(order))) else order
