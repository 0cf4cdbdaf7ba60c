"""Options and helpers shared by the commands that run, steer or inspect a cutover."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from cutover.errors import UsageError

if TYPE_CHECKING:
    from cutover.engine.request import RunRequest

DEFAULT_HOME = Path("var/cutover")

PlanArgument = Annotated[Path, typer.Argument(help="The plan file.", show_default=False)]
JournalOption = Annotated[
    str | None,
    typer.Option(
        "--journal", help="Journal: a SQLite path or postgresql:// URL (env CUTOVER_JOURNAL)."
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option("--base-url", help="Override the environment's base_url ({system} is replaced)."),
]
DataRootOption = Annotated[
    Path | None,
    typer.Option("--data-root", help="Folder that relative store paths are under (default: cwd)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON summary as the last line.")]
VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Show the log lines too (they always go to the run's log file)."
    ),
]

_FLAGS = {"run_key": "--run-key", "on_failure": "--on-failure", "journal": "--journal"}
"""The option behind a field whose value the request refuses (the rest are checked by typer,
or refused as a whole: the production guard names its options itself)."""


def default_journal() -> str:
    return os.environ.get("CUTOVER_JOURNAL") or str(DEFAULT_HOME / "journal.db")


def default_run_key(plan: Path, env: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{plan.stem}-{env}-{stamp}"


def make_request(**fields: Any) -> RunRequest:
    """A RunRequest from the command's options; its refusals as one UsageError line."""
    from cutover.engine.request import RunRequest

    try:
        return RunRequest(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _FLAGS.get(str(first["loc"][0]), "") if first["loc"] else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        raise UsageError(f"{where}: {message}" if where else message) from None


def check_environment(environments: list[str], env: str) -> None:
    if env not in environments:
        raise UsageError(
            f"--env {env!r} is not an environment of the plan ({', '.join(environments)})"
        )
