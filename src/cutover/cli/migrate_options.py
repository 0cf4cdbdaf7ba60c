"""Arguments and options that every `cutover migrate` command shares, and the plan binding they name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from cutover.migrate.binding import Binding

PlanArg = Annotated[Path, typer.Argument(help="The plan file.", show_default=False)]
EnvOpt = Annotated[str, typer.Option("--env", "-e", help="Environment whose stores to use.")]
SystemOpt = Annotated[str, typer.Option("--system", "-s", help="The system whose data moves.")]
StepOpt = Annotated[
    str | None, typer.Option("--step", help="The migrate step's id, if the system has several.")
]
JobOpt = Annotated[
    str | None, typer.Option("--job", help="Job id (default: mapping:source->target).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]


def bind(plan: Path, env: str, system: str, step: str | None) -> Binding:
    """The stores, mapping and checks the plan gives this system's migrate step."""
    from cutover.migrate.binding import bind as bind_step

    return bind_step(plan, env, system, step)


def emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    """Print a result: one JSON object with --json, else the text."""
    if as_json:
        typer.echo(json.dumps(data, default=str))
    else:
        typer.echo(text)
