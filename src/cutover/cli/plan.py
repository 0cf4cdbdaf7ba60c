"""`cutover validate`, `show`, `schema`: reading plans, fast (no Prefect imported)."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from cutover.errors import PlanError, UsageError

if TYPE_CHECKING:
    from cutover.plan import LoadedPlan


class ShowFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    ics = "ics"
    html = "html"


def _console() -> object:
    from rich.console import Console

    interactive = sys.stdout.isatty()
    return Console(width=None if interactive else 160, highlight=False)


def validate(
    plans: Annotated[list[Path], typer.Argument(help="Plan files to check.", show_default=False)],
    env: Annotated[
        str | None,
        typer.Option("--env", "-e", help="With --connect: the environment whose stores to read."),
    ] = None,
    connect: Annotated[
        bool,
        typer.Option(
            "--connect",
            help="Also check every mapping's columns and types against the real stores of --env "
            "(SQLite, PostgreSQL, CSV headers); reads only.",
        ),
    ] = False,
) -> None:
    """Check plan files: exit 0 when all are valid, else print every problem as FILE:LINE: message and exit 2."""
    from cutover.plan import build_timeline, load_plan

    if connect != (env is not None):
        raise UsageError(
            "--connect and --env go together: cutover validate PLAN --env ENV --connect"
        )
    failed = False
    for path in plans:
        try:
            loaded = load_plan(path)
            stores = _connect(loaded, env) if env is not None else ""
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
            f"{days} day{'s' if days != 1 else ''}{stores}"
        )
    if failed:
        raise typer.Exit(2)


def _connect(loaded: LoadedPlan, env: str) -> str:
    """Check the mappings against the stores of `env`; PlanError listing what does not fit."""
    from cutover.migrate.connect_check import connect_problems

    environments = loaded.plan.environments
    if env not in environments:
        raise UsageError(
            f"--env {env!r} is not an environment of {loaded.path} ({', '.join(environments)})"
        )
    problems = connect_problems(loaded, env)
    if problems:
        raise PlanError(problems)
    return f"; every mapping fits the stores of {env}"


def _days(zone: ZoneInfo, start: datetime, end: datetime) -> list[date]:
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def show(
    plan: Annotated[Path, typer.Argument(help="The plan file.", show_default=False)],
    format: Annotated[
        ShowFormat,
        typer.Option(
            "--format",
            "-f",
            help="text (terminal), json (tools), markdown, ics (a calendar of phases, gates "
            "and customer windows: `> cutover.ics`), html (a printable runbook).",
        ),
    ] = ShowFormat.text,
    calibrate: Annotated[
        list[Path] | None,
        typer.Option(
            "--calibrate",
            help="Drill report(s): forecast with the step durations measured in rehearsals.",
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            "-e",
            help="Plan with this environment's durations (a step's `expected: {staging: 5m, "
            "production: 40m}`); default: the plain value, or production's.",
        ),
    ] = None,
) -> None:
    """Show the plan's timeline: phases by day, swimlanes per department, critical path, degradation windows."""
    from cutover.cli.options import check_environment
    from cutover.plan import build_timeline, load_plan
    from cutover.plan.report import timeline_data, timeline_markdown

    loaded = load_plan(plan)
    if env is not None:
        check_environment(list(loaded.plan.environments), env)
    durations = None
    if calibrate:
        from cutover.plan.calibrate import measured_durations

        durations = measured_durations(loaded.plan, calibrate)
    timeline = build_timeline(loaded.plan, durations, env=env)
    if format is ShowFormat.json:
        typer.echo(json.dumps(timeline_data(loaded.plan, timeline, str(plan)), indent=2))
    elif format is ShowFormat.markdown:
        typer.echo(timeline_markdown(loaded.plan, timeline), nl=False)
    elif format is ShowFormat.html:
        from cutover.plan.runbook import timeline_html

        typer.echo(timeline_html(loaded.plan, timeline), nl=False)
    elif format is ShowFormat.ics:
        from cutover.plan.calendar import timeline_ics

        data = timeline_ics(loaded.plan, timeline)  # CRLF lines, as RFC 5545 wants
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:  # a text stream (captured): the same characters
            sys.stdout.write(data.decode("utf-8"))
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
