"""The progress of a long data-plane command: a rich bar on a terminal, a plain line elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from cutover import logs

if TYPE_CHECKING:
    from cutover.migrate.progress import Progress


@contextmanager
def progress_view(label: str) -> Iterator[Callable[[Progress], None]]:
    """A progress callback: a rich bar on a terminal, a plain line every 5 s otherwise."""
    if not sys.stderr.isatty():
        last = [0.0]

        def plain(p: Progress) -> None:
            if time.monotonic() - last[0] >= 5.0:
                last[0] = time.monotonic()
                typer.echo(p.line(), err=True)

        yield plain
        return
    from rich.console import Console
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]}"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[eta]}"),
        TextColumn("{task.fields[lag]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = bar.add_task(label, total=None, rows="", rate="", eta="", lag="")

    def draw(p: Progress) -> None:
        rows = f"{p.rows_done:,}" + (f"/{p.rows_total:,}" if p.rows_total else "") + " rows"
        lag = f"lag {p.lag_entries:,} / {p.lag_s:.1f}s" if p.phase in ("catch-up", "drain") else ""
        bar.update(
            task,
            completed=p.rows_done,
            total=p.rows_total,
            description=f"{p.phase} [{p.path}]",
            rows=rows,
            rate=f"{p.rows_per_s:,.0f}/s",
            lag=lag,
            eta=f"eta {p.eta_s:,.0f}s" if p.eta_s is not None else "",
        )

    # a log line printed while the bar is drawn goes above it, not through it
    undo = logs.redirect_console(ConsoleLines(bar.console))
    try:
        with bar:
            yield draw
    finally:
        undo()


class ConsoleLines:
    """A stream for log lines that a rich display (a bar, a live view) prints above itself."""

    def __init__(self, console: Any) -> None:
        self.console = console

    def write(self, text: str) -> int:
        from rich.text import Text

        for line in text.rstrip("\n").splitlines():
            self.console.print(Text(line), soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        pass
