"""Where a job's rows come from, behind one interface: a database table or a CSV file feed.

`source_of(m)` gives the `Source` of an opened `Migration`; `copy` and `verify` on it
are all `run_copy` and `verify` need (see `base.py`).
"""

from __future__ import annotations

from cutover.migrate.migration import Migration
from cutover.migrate.sources.base import CopyOptions, CopyReport, Source
from cutover.migrate.sources.feed import FeedSource
from cutover.migrate.sources.table import TableSource

__all__ = ["CopyOptions", "CopyReport", "FeedSource", "Source", "TableSource", "source_of"]


def source_of(m: Migration) -> Source:
    """The source implementation for a job: its feed, or its source table."""
    return FeedSource() if m.is_feed else TableSource()
