"""File feeds as a source (case B): a sample file, a full feed or a delta file, as CSV.

A feed is read in file order, strictly and line-exactly: a record is one physical
line, so every line after the header is either a row or rejected with its line number
and reason (a quote left open, a NUL byte, text that is not UTF-8, a line over
`MAX_LINE_BYTES`, a field over `MAX_FIELD_CHARS`, an empty line); nothing can swallow
the lines after it. Its checkpoint is the number of lines consumed, so a killed load
resumes after the last committed chunk. A UTF-8 byte-order mark before the header is
allowed. Its header must be exactly
the mapping's `source.columns` (the layout agreed on the sample file): a renamed,
missing or extra column is schema drift, refused before anything is written. An
empty field is NULL. A file changed between runs is refused too (its fingerprint is
part of the job's identity).

A delta file may say what each row is (the mapping's `source.operation`): a column,
allowed in the header besides `source.columns`, whose value makes the row an upsert
(`I`, `U` or empty by default) or a delete of its key (`D`); a delete needs only the
key. Any other value rejects the line. Without that column every row is an upsert.

A full feed (the default) has one line per key: a key's second line is rejected
naming both lines. In a delta (`feed: delta` on the store, or a header with the
change column) the last line per key wins.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cutover.errors import StoreError
from cutover.migrate.mapping import Mapping
from cutover.migrate.transform import Reject, parse_int
from cutover.plan.models import Store

FINGERPRINT_BYTES = 1 << 20
"""Bytes hashed from each end of a feed for its fingerprint (with its size)."""
MAX_LINE_BYTES = 1 << 20
"""A longer line is rejected (and skipped without holding it in memory)."""
MAX_FIELD_CHARS = 128 * 1024
"""A longer field is rejected with its line."""

Record = list[str] | Reject
"""One line of a feed: its fields, or why it is rejected."""


def parse_line(raw: bytes) -> Record:
    """One physical line (its terminator included or not) as fields, or the reason it
    cannot be one. Unquoted lines take the fast path; quoted ones go through `csv`."""
    line = raw[:-1] if raw.endswith(b"\n") else raw
    if line.endswith(b"\r"):
        line = line[:-1]
    if b"\x00" in line:
        return Reject("a NUL byte in the line")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Reject(f"not UTF-8 text (byte {exc.start + 1} of the line)")
    if not text:
        return Reject("an empty line")
    if '"' not in text:
        fields = text.split(",")
    else:
        try:
            fields = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            reason = str(exc)
            if reason == "unexpected end of data":
                return Reject('a quoted field is not closed on its line (a stray `"`?)')
            if "field larger than field limit" in reason:
                return Reject(f"a field is longer than {MAX_FIELD_CHARS:,} characters")
            return Reject(f"not valid CSV: {reason}")
    if len(text) > MAX_FIELD_CHARS and any(len(f) > MAX_FIELD_CHARS for f in fields):
        return Reject(f"a field is longer than {MAX_FIELD_CHARS:,} characters")
    return fields


def read_lines(handle: BinaryIO) -> Iterator[bytes | None]:
    """The handle's physical lines, each at most `MAX_LINE_BYTES` read; None for a longer
    one, whose rest is skipped."""
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = handle.readline(MAX_LINE_BYTES + 1)
            yield None
        else:
            yield raw


def block_records(data: bytes, first_line: int) -> Iterator[tuple[int, Record]]:
    """(line number, record) of every line of a block read whole (ending after a newline,
    or at the end of the file): as `records` answers, decoded and split at once."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        yield from records(io.BytesIO(data), first_line)
        return
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line_no, line in enumerate(lines, first_line):
        if line.endswith("\r"):
            line = line[:-1]
        if not line or '"' in line or "\x00" in line or len(line) > MAX_FIELD_CHARS:
            yield line_no, parse_line(line.encode())
        else:
            yield line_no, line.split(",")


def records(handle: BinaryIO, first_line: int) -> Iterator[tuple[int, Record]]:
    """(line number, record) of every physical line the handle has left."""
    for line_no, raw in enumerate(read_lines(handle), first_line):
        if raw is None:
            yield line_no, Reject(f"the line is longer than {MAX_LINE_BYTES:,} bytes")
        else:
            yield line_no, parse_line(raw)


@dataclass
class Feed:
    """A CSV feed file checked against a mapping."""

    path: Path
    label: str
    header: list[str]
    fingerprint: str
    op_at: int | None = None
    """Where the change column is in the header (None: every row is an upsert)."""
    delta: bool = False
    """The last line per key wins (a delta); otherwise a key's second line is rejected."""

    def rows(self, start: int = 0) -> Iterator[tuple[int, Record]]:
        """(line number, record) of every line after the header, skipping the first
        `start` of them (lines, not rows: one record is one line)."""
        with self.path.open("rb") as handle:
            for _ in read_lines(handle):
                break  # the header, checked when the feed was opened
            for index, item in enumerate(records(handle, 2)):
                if index >= start:
                    yield item

    def count(self) -> int:
        """The lines after the header, counted from the bytes alone (no CSV parser), so
        verification can prove the load accounted for every one of them."""
        return physical_lines(self.path) - 1 if self.path.stat().st_size else 0


def open_feed(config: Store, mapping: Mapping, label: str | None = None) -> Feed:
    """Open a CSV feed and check its header against the mapping; StoreError otherwise."""
    assert config.path is not None
    path = Path(config.path)
    name = label or f"csv:{config.path}"
    if not path.is_file():
        raise StoreError("no such feed file" if not path.exists() else "is not a file", store=name)
    with path.open("rb") as handle:
        first = next(read_lines(handle), b"")
    if first is None:
        raise StoreError(f"line 1: the header is longer than {MAX_LINE_BYTES:,} bytes", store=name)
    record = parse_line(first.removeprefix(b"\xef\xbb\xbf"))
    if isinstance(record, Reject):
        if str(record) == "an empty line":
            raise StoreError("the feed is empty: no header line", store=name)
        raise StoreError(f"line 1: not a CSV header: {record}", store=name)
    header = record
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
    delta = op_at is not None or config.feed == "delta"
    return Feed(path, name, header, _fingerprint(path), op_at, delta)


def physical_lines(path: Path) -> int:
    """Lines in the file by its newline bytes (a last line without one counts too)."""
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


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
