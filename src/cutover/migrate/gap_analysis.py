"""The gap analysis: a mapping run over a sample with the migrate step's own transform.

`analyse_feed` reads a CSV sample (a sample file, a full feed, a delta file) and
`analyse_table` (`gap_table`) a table of a SQLite or PostgreSQL store. Every row goes
through the mapping compiled by `python_transform`, the code the migrate step runs
(the CSV entry point for feeds, as the feed loader calls it, with the same handling
of a line's field count and of a delta file's change column), and a `GapCounter`
counts what it answers. Nothing is written anywhere.

A sample whose layout differs from `source.columns` (a column missing or added) is
refused by the migrate step as schema drift; here it is reported, and a missing
column reads as empty so the rest of the mapping can still be seen.

A big file is counted in parts of about `PART_BYTES`, cut at the end of a line
(a record is one line), by up to two worker processes, and the parts are
merged in file order (`bench/mapping_check.py` times 1 M member rows).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cutover.children import die_with_parent, pool_initargs
from cutover.errors import StoreError
from cutover.migrate.feeds import Feed, Record, block_records, deleted_key, parse_line, read_lines
from cutover.migrate.gap_counter import (
    BATCH,
    GapCounter,
    Partial,
    no_cycle_collection,
    source_fields,
)
from cutover.migrate.gap_table import analyse_table
from cutover.migrate.gaps import GapReport
from cutover.migrate.mapping import Mapping, MappingRef, as_mapping
from cutover.migrate.stores import describe
from cutover.migrate.transform import Reject
from cutover.plan.models import Store

__all__ = ["MAX_SAMPLE_BYTES", "PART_BYTES", "analyse_feed", "analyse_store", "analyse_table"]

MAX_SAMPLE_BYTES = 2 * 1024**3
"""Largest sample file read (about 25 M member rows): a gap analysis wants a sample."""
PART_BYTES = 16 * 1024**2
"""Bytes of the file one part counts (a part is read into memory)."""
WORKERS = 2
"""Worker processes for a file of several parts (fewer on a machine with fewer cores)."""

Part = tuple[int, int, int]
"""A part of the file: (first byte, end byte, physical lines before it)."""


def analyse_store(
    mapping: MappingRef, config: Store, store_id: str, *, workers: int | None = None
) -> GapReport:
    """The gap report of a plan's store, named `ID (engine:where)`: a CSV feed read as a
    sample file (on `workers` processes), a SQLite or PostgreSQL table in key order."""
    label = f"{store_id} ({describe(config)})"
    if config.engine == "csv":
        assert config.path is not None
        return analyse_feed(mapping, config.path, label, workers=workers)
    return analyse_table(mapping, config, label)


def analyse_feed(
    mapping: MappingRef,
    path: str | Path,
    label: str | None = None,
    *,
    workers: int | None = None,
    part_bytes: int = PART_BYTES,
) -> GapReport:
    """The gap report of a CSV sample; StoreError if the file cannot be read as CSV."""
    started = time.monotonic()
    m = as_mapping(mapping)
    file = Path(path)
    name = label or str(path)
    size = _check_file(file, name)
    header, body = _header(file, name)
    report = GapReport(m.path, name)
    op = m.source.operation
    report.fields = source_fields(m, header, op.column if op else None)
    counter = GapCounter(m, report)
    parts = _parts(file, body, size, part_bytes)
    count = min(workers or min(WORKERS, os.cpu_count() or 1), len(parts))
    jobs = [(m, str(file), name, header, part) for part in parts]
    if count <= 1:
        for job in jobs:
            counter.merge(_count_part(job))
    else:
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(
            count, mp_context=context, initializer=die_with_parent, initargs=pool_initargs()
        ) as pool:
            for answer in pool.map(_count_in_worker, jobs):
                if isinstance(answer, str):  # the worker's StoreError, without the store
                    raise StoreError(answer, store=name)
                counter.merge(answer)
    return counter.finish(started)


def _check_file(file: Path, name: str) -> int:
    """The file's size, if it is a regular file under the cap; StoreError otherwise."""
    if not file.exists():
        raise StoreError("no such sample file", store=name)
    if not file.is_file():
        raise StoreError("is not a regular file", store=name)
    size = file.stat().st_size
    if size > MAX_SAMPLE_BYTES:
        raise StoreError(
            f"the sample is {size / 1024**3:.1f} GiB, over the {MAX_SAMPLE_BYTES // 1024**3} GiB "
            "limit; check a sample of it",
            store=name,
        )
    return size


def _header(file: Path, name: str) -> tuple[list[str], int]:
    """The header's column names and the byte where the data starts."""
    with file.open("rb") as handle:
        first = next(read_lines(handle), b"")
    if first is None:
        raise StoreError("line 1: the header is longer than a feed line may be", store=name)
    record = parse_line(first.removeprefix(b"\xef\xbb\xbf"))
    if isinstance(record, Reject) and str(record) != "an empty line":
        raise StoreError(f"line 1: not a CSV header: {record}", store=name)
    header = [] if isinstance(record, Reject) else [h.strip() for h in record]
    if not any(header):
        raise StoreError("the sample is empty: no header line", store=name)
    return header, len(first)


def _parts(file: Path, start: int, size: int, part_bytes: int) -> list[Part]:
    """The data cut into parts of about `part_bytes`, each ending after a newline (a
    record is one line, as the feed loader reads it)."""
    parts: list[Part] = []
    begin, lines_before = start, 1
    pos, lines = start, 1
    with file.open("rb") as handle:
        while size - begin > part_bytes:
            handle.seek(pos)
            block = handle.read(part_bytes)
            cut = block.rfind(b"\n")
            if cut < 0 or pos + cut + 1 >= size:  # no line ends here: the part grows
                lines += block.count(b"\n")
                pos += len(block)
                if pos >= size:
                    break
                continue
            end = pos + cut + 1
            parts.append((begin, end, lines_before))
            lines_before = lines + block.count(b"\n", 0, cut + 1)
            begin = pos = end
            lines = lines_before
    if begin < size or not parts:
        parts.append((begin, size, lines_before))
    return parts


def _count_in_worker(job: tuple[Mapping, str, str, list[str], Part]) -> Partial | str:
    """`_count_part` in a worker process: a StoreError comes back as its message (the
    exception itself does not survive the trip back)."""
    try:
        return _count_part(job)
    except StoreError as exc:
        return str(exc).removeprefix(f"{exc.store}: ")


def _count_part(job: tuple[Mapping, str, str, list[str], Part]) -> Partial:
    """Count one part of the file (in this process or a worker)."""
    mapping, path, name, header, (begin, end, lines_before) = job
    with Path(path).open("rb") as handle:
        handle.seek(begin)
        data = handle.read(end - begin)
    counter = GapCounter(mapping, GapReport(mapping.path, name))
    with no_cycle_collection():
        _read(counter, block_records(data, lines_before + 1), Feed(Path(path), name, header, ""))
    return counter.partial()


def _read(counter: GapCounter, lines: Iterator[tuple[int, Record]], feed: Feed) -> None:
    """Every line of a part through the transform, as the feed loader reads them."""
    m = counter.mapping
    header = feed.header
    width = len(header)
    order = [header.index(c) if c in header else width for c in m.source.columns]
    padded = width in order  # a missing column reads as empty text
    same = order == list(range(width))
    key_at = header.index(m.source.key) if m.source.key in header else None
    op = m.source.operation
    feed.op_at = op_at = header.index(op.column) if op and op.column in header else None
    upserts = {"", *op.upsert} if op is not None else set()
    transform = counter.compiled.csv
    batch, sources, flush = counter.batch, counter.sources, counter.flush
    keep_source = bool(counter.pairs)
    counter.from_text = True
    rows = 0
    for rows, (line_no, fields) in enumerate(lines, 1):  # noqa: B007 (the count is kept after)
        if isinstance(fields, Reject):
            counter.reject(str(fields), None, line_no)
            continue
        if len(fields) != width:
            key = fields[key_at] if key_at is not None and key_at < len(fields) else None
            counter.reject(f"the line has {len(fields)} fields, the header {width}", key, line_no)
            continue
        if op_at is not None and fields[op_at].strip() not in upserts:
            _, answer = deleted_key(feed, m, fields)
            if isinstance(answer, Reject):
                counter.reject(str(answer), _key(fields, key_at), line_no)
            else:
                counter.report.deletes += 1
            continue
        if padded:
            fields.append("")
        values = fields if same else [fields[i] for i in order]
        out = transform(values)
        if isinstance(out, Reject):
            counter.reject(str(out), _key(fields, key_at), line_no)
            continue
        batch.append(out)
        if keep_source:
            sources.append(values)
        if len(batch) >= BATCH:
            flush()
    counter.report.rows = rows


def _key(fields: list[str], at: int | None) -> str | None:
    return None if at is None else fields[at].strip()
