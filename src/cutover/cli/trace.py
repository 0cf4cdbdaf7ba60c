"""`cutover trace`: a plan's data flow traced hop by hop under both programs.

Prints a table per program (events in and out, lost, doubled; points in and out; the
hop's own drift; the worst member's accumulated drift; the first hop that departs),
then the verdict; `--json` adds the whole trace as one JSON object on the last line.
Exit 0 when it passes, 1 when a member drifts over the flow's tolerance, 2 on bad input
(nothing is traced). Never imports Prefect; contacts nothing.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from cutover.errors import UsageError
from cutover.plan.dataflows import MAX_EVENTS

from .options import JsonOption, PlanArgument, check_environment

if TYPE_CHECKING:
    from cutover.dataflow import Trace


def trace(
    plan: PlanArgument,
    flow: Annotated[str, typer.Option("--flow", help="The data flow's id.", show_default=False)],
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            "-e",
            help="The environment whose run would check the flow (spelled out); the trace "
            "reads the plan, not the systems, so it is the same in every one.",
        ),
    ] = None,
    events: Annotated[
        int | None,
        typer.Option(
            "--events", min=1, max=MAX_EVENTS, help="Simulated transactions (default: the flow's)."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="Their seed (default: the flow's).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Send simulated transactions through a data flow's hops, as both programs price them,
    and report per hop what arrived, what left, and how far members' points drifted."""
    from cutover.dataflow import trace as run_trace
    from cutover.plan import load_plan

    loaded = load_plan(plan)
    if env is not None:
        check_environment(list(loaded.plan.environments), env)
    flows = [f.id for f in loaded.plan.data_flows]
    if flow not in flows:
        known = ", ".join(flows) if flows else "none: add `data_flows:` (docs/data-flows.md)"
        raise UsageError(f"--flow {flow!r} is not a data flow of {plan} (it has: {known})")
    result = run_trace(loaded.plan.data_flow(flow), env=env, events=events, seed=seed)
    _print(result)
    if json_out:
        typer.echo(json.dumps(result.to_dict()))
    if not result.ok:
        raise typer.Exit(1)


def _print(result: Trace) -> None:
    from rich.console import Console
    from rich.table import Table

    from cutover.dataflow.report import COLUMNS, heading, hop_row, title

    console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
    console.print(heading(result))
    for program in result.programs:
        table = Table(title=title(program), title_justify="left")
        for name in COLUMNS:
            table.add_column(name, justify="right" if name not in ("system", "keeps") else "left")
        for hop in program.hops:
            table.add_row(*hop_row(hop))
        console.print(table)
    console.print(result.verdict(), soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `cutover trace` to the main command."""
    app.command("trace")(trace)
