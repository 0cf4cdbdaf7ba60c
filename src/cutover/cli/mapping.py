"""`cutover mapping check`: the gap analysis a mapping's reviewers read before they sign it.

The sample is a CSV file (`--sample FILE`) or a store of a plan's environment
(`--plan PLAN --env ENV --store ID`: a CSV feed, or a SQLite or PostgreSQL table).
The report goes to stdout as text, markdown or JSON; the exit code is 0 whatever it
finds (it is a report), 1 with `--strict` when it lists a gap, 2 on bad input.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cutover.errors import PlanError, UsageError

if TYPE_CHECKING:
    from cutover.migrate.gaps import GapReport
    from cutover.plan.mapping import LoadedMapping

mapping_app = typer.Typer(
    name="mapping",
    help="Check a mapping file against real data before it is signed: the gap analysis.",
    no_args_is_help=True,
)


class ReportFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add `cutover mapping ...` to the main command."""
    app.add_typer(mapping_app, name="mapping")


@mapping_app.command("check")
def check_command(
    mapping: Annotated[Path, typer.Argument(help="The mapping file.", show_default=False)],
    sample: Annotated[
        Path | None, typer.Option("--sample", help="A CSV sample file in the source's layout.")
    ] = None,
    plan: Annotated[
        Path | None, typer.Option("--plan", help="A plan whose store holds the sample.")
    ] = None,
    env: Annotated[str | None, typer.Option("--env", "-e", help="The plan's environment.")] = None,
    store: Annotated[
        str | None, typer.Option("--store", help="The store id (a CSV feed or a table).")
    ] = None,
    format: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="text, markdown (sign-off), json.")
    ] = ReportFormat.text,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when the report lists a gap.")
    ] = False,
) -> None:
    """Run the mapping over a sample with the migrate step's transform and report every gap:
    fields mapped, unmapped or renamed; target columns filled, defaulted or empty; rows
    rejected per rule; rounding remainders; type clashes and values out of range."""
    from cutover.migrate.gap_render import render_markdown, render_text

    report = _analyse(_load(mapping), sample, plan, env, store)
    if format is ReportFormat.json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    elif format is ReportFormat.markdown:
        typer.echo(render_markdown(report), nl=False)
    else:
        typer.echo(render_text(report), nl=False)
    if strict and report.gaps():
        raise typer.Exit(1)


def _load(path: Path) -> LoadedMapping:
    from cutover.plan.mapping import load_mapping_file

    if path.exists() and not path.is_file():  # only regular files are read (no FIFO)
        raise PlanError.single(path, 1, "is not a regular file")
    return load_mapping_file(path)


def _analyse(
    mapping: LoadedMapping,
    sample: Path | None,
    plan: Path | None,
    env: str | None,
    store: str | None,
) -> GapReport:
    from cutover.migrate.gap_analysis import analyse_feed, analyse_store

    by_plan = (plan, env, store)
    if sample is not None:
        if any(v is not None for v in by_plan):
            raise UsageError("give either --sample FILE or --plan PLAN --env ENV --store ID")
        return analyse_feed(mapping, sample)
    if any(v is None for v in by_plan):
        raise UsageError("give --sample FILE, or --plan PLAN --env ENV --store ID")
    assert plan is not None and env is not None and store is not None
    from cutover.plan import load_plan

    environments = load_plan(plan).plan.environments
    if env not in environments:
        raise UsageError(
            f"--env {env!r} is not an environment of {plan} ({', '.join(environments)})"
        )
    stores = environments[env].stores
    if store not in stores:
        raise UsageError(
            f"--store {store!r} is not a store of environment {env!r} ({', '.join(stores)})"
        )
    return analyse_store(mapping, stores[store], store)
