"""The `cutover` command: one entry point, one line per error, exit 2 on bad input.

Commands that only read plans (`validate`, `show`, `schema`) never import
Prefect (it costs 1-2 s). Command groups that live beside their library code
(`cutover migrate ...` in `cutover.cli.migrate`, and so on) register themselves
through `register(app)`; each imports its heavy dependencies inside the command.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated

import typer

from cutover import __version__, logs
from cutover.errors import CutoverError, PlanError

from . import interrupt

app = typer.Typer(
    name="cutover",
    help="Cut a live business system over to a new one without stopping the business.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

_debug = False


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


NO_TELEMETRY = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
"""Set for every command before Prefect can be imported: nothing leaves the machine (no
usage telemetry from Prefect's client, its temporary server or a server we start), and
every child process inherits it. A user's own explicit setting is kept."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; CutoverErrors become one line each on stderr and their exit code."""
    for name, value in NO_TELEMETRY.items():
        os.environ.setdefault(name, value)
    interrupt.install()
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
        if interrupt.seen() and not _debug:  # Ctrl-C that a library re-raised as its own
            typer.echo("cutover: interrupted", err=True)
            return 130
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
