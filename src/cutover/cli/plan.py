"""`cutover validate`, `show`, `schema`: reading plans, fast (no Prefect imported)."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from cutover.errors import PlanError


class ShowFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def _console() -> object:
    from rich.console import Console

    interactive = sys.stdout.isatty()
    return Console(width=None if interactive else 160, highlight=False)


def validate(
    plans: Annotated[list[Path], typer.Argument(help="Plan files to check.", show_default=False)],
) -> None:
    """Check plan files: exit 0 when all are valid, else print every problem as FILE:LINE: message and exit 2."""
    from cutover.plan import build_timeline, load_plan

    failed = False
    for path in plans:
        try:
            loaded = load_plan(path)
        except PlanError as exc:
            failed = True
            for problem in exc.problems:
                typer.echo(str(problem))
            continue
        timeline = build_timeline(loaded.plan)
        days = len(_days(loaded.plan.zone, timeline.starts_at, timeline.end))
        typer.echo(
            f"{path}: ok — {len(loaded.plan.departments)} departments, "
            f"{len(loaded.plan.systems)} systems, {len(loaded.plan.phases)} phases over "
            f"{days} day{'s' if days != 1 else ''}"
        )
    if failed:
        raise typer.Exit(2)


def _days(zone: ZoneInfo, start: datetime, end: datetime) -> list[date]:
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def show(
    plan: Annotated[Path, typer.Argument(help="The plan file.", show_default=False)],
    format: Annotated[
        ShowFormat, typer.Option("--format", "-f", help="text (terminal), json (tools), markdown.")
    ] = ShowFormat.text,
    calibrate: Annotated[
        list[Path] | None,
        typer.Option(
            "--calibrate",
            help="Drill report(s): forecast with the step durations measured in rehearsals.",
        ),
    ] = None,
) -> None:
    """Show the plan's timeline: phases by day, swimlanes per department, critical path, degradation windows."""
    from cutover.plan import build_timeline, load_plan
    from cutover.plan.report import timeline_data, timeline_markdown

    loaded = load_plan(plan)
    durations = None
    if calibrate:
        from cutover.plan.calibrate import measured_durations

        durations = measured_durations(loaded.plan, calibrate)
    timeline = build_timeline(loaded.plan, durations)
    if format is ShowFormat.json:
        typer.echo(json.dumps(timeline_data(loaded.plan, timeline, str(plan)), indent=2))
    elif format is ShowFormat.markdown:
        typer.echo(timeline_markdown(loaded.plan, timeline), nl=False)
    else:
        from rich.console import Console

        from cutover.plan.view import render_timeline

        console = _console()
        assert isinstance(console, Console)
        console.print(render_timeline(loaded.plan, timeline, str(plan)))


def schema() -> None:
    """Print the JSON Schema of the plan file (for editors: yaml-language-server)."""
    from cutover.plan import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(show)
    app.command()(schema)
