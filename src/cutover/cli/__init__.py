"""The `cutover` command: one entry point, one line per error, exit 2 on bad input.

Commands that only read plans (`validate`, `show`, `schema`) never import
Prefect (it costs 1-2 s). Command groups that live beside their library code
(`cutover migrate ...` in `cutover.cli.migrate`, and so on) register themselves
through `register(app)`; each imports its heavy dependencies inside the command.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from cutover import __version__, logs
from cutover.errors import CutoverError, PlanError

app = typer.Typer(
    name="cutover",
    help="Cut a live business system over to a new one without stopping the business.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

COMMAND_MODULES = (
    "cutover.cli.migrate",  # cutover migrate copy|catchup|verify|status
    "cutover.cli.estate",  # cutover estate serve, simulate, reconcile
    "cutover.cli.notices",  # cutover notices
    "cutover.cli.run",  # cutover run, demo, gate, journal, drill, server
)
"""Modules that add commands with `register(app)`, when they are installed."""

_debug = False


class ShowFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class LogFormatOption(StrEnum):
    pretty = "pretty"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cutover {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    log_format: Annotated[
        LogFormatOption | None,
        typer.Option(
            "--log-format",
            help="Log lines as 'pretty' text or 'json' (default: pretty on a terminal).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Cut a live business system over to a new one without stopping the business."""
    global _debug
    _debug = debug or os.environ.get("CUTOVER_DEBUG") == "1"
    logs.configure(
        level="debug" if _debug else "info",
        fmt=log_format.value if log_format else None,
    )


def _console(stderr: bool = False) -> object:
    from rich.console import Console

    interactive = (sys.stderr if stderr else sys.stdout).isatty()
    return Console(stderr=stderr, width=None if interactive else 160, highlight=False)


@app.command()
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


@app.command()
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


@app.command()
def schema() -> None:
    """Print the JSON Schema of the plan file (for editors: yaml-language-server)."""
    from cutover.plan import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


def _register_command_modules() -> None:
    for name in COMMAND_MODULES:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None  # the parent package does not exist yet
        if spec is None:
            continue
        module = importlib.import_module(name)
        module.register(app)


_register_command_modules()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; CutoverErrors become one line each on stderr and their exit code."""
    try:
        result = app(args=argv, prog_name="cutover", standalone_mode=False)
    except PlanError as exc:
        if _debug:
            raise
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        return exc.exit_code
    except CutoverError as exc:
        if _debug:
            raise
        typer.echo(f"cutover: {exc}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        typer.echo("cutover: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        typer.echo("cutover: interrupted", err=True)
        return 130
    except Exception as exc:  # a usage error from the parser, or a bug: one line unless --debug
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            show()  # typer (its vendored click) formats usage errors itself
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if _debug or "--debug" in (argv if argv is not None else sys.argv):
            raise
        typer.echo(
            f"cutover: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            err=True,
        )
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
