"""`cutover gate list|approve|hold|decide`: sign off or decide a paused cutover from a terminal."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cutover.errors import UsageError

gate_app = typer.Typer(
    help="Sign off or decide a paused cutover from a terminal.", no_args_is_help=True
)


@gate_app.command("list")
def gate_list(
    run: Annotated[
        str | None, typer.Argument(help="Run key or flow-run id; all paused cutovers if omitted.")
    ] = None,
) -> None:
    """List paused cutover runs and what each gate waits for."""
    from cutover.flows.gate_client import (
        awaited_departments,
        description_of,
        failed_systems,
        paused_runs,
        waiting_for,
    )

    runs = paused_runs(run)
    if not runs:
        typer.echo("nothing is waiting for a decision")
        return
    for flow_run in runs:
        schema = waiting_for(flow_run)
        props = schema.get("properties", {})
        awaited = awaited_departments(schema)
        kind = "sign-off" if "department" in props else "decision"
        kind = "manual-step" if "item_1" in props else kind
        extra = f" — waiting for: {', '.join(map(str, awaited))}" if awaited else ""
        typer.echo(
            f"{flow_run.name} ({flow_run.id}): {kind} gate {flow_run.state.state_details.pause_key}{extra}"
        )
        if kind == "decision":
            for system, error in failed_systems(description_of(flow_run)):
                typer.echo(f"  failed: {system}: {error}")
        for item in (p for p in props if p.startswith("item_")):
            typer.echo(f"  to confirm: {props[item].get('title', item)}")


@gate_app.command("approve")
def gate_approve(
    run: Annotated[str, typer.Argument(help="Run key or flow-run id.", show_default=False)],
    department: Annotated[str, typer.Option("--department", "-d", show_default=False)],
    name: Annotated[str, typer.Option("--name", "-n", help="Who signs.", show_default=False)],
    comment: Annotated[str, typer.Option("--comment", "-m")] = "",
    checked: Annotated[
        bool,
        typer.Option(
            "--checked",
            help="At a manual step: you confirm every item of its checklist is done "
            "(`cutover gate list` shows them).",
        ),
    ] = False,
) -> None:
    """Approve a gate (or confirm a manual step's checklist) for one department."""
    _sign(run, department, "approve", name, comment, checked)


@gate_app.command("hold")
def gate_hold(
    run: Annotated[str, typer.Argument(help="Run key or flow-run id.", show_default=False)],
    department: Annotated[str, typer.Option("--department", "-d", show_default=False)],
    name: Annotated[str, typer.Option("--name", "-n", show_default=False)],
    comment: Annotated[
        str, typer.Option("--comment", "-m", help="Why you hold.", show_default=False)
    ],
) -> None:
    """Hold a gate for one department (the phase keeps waiting; recorded with your reason)."""
    _sign(run, department, "hold", name, comment)


def read_secret(department: str) -> str:
    """The signer's sign-off secret: prompted for on a terminal, else one line of stdin."""
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"sign-off secret for {department}: ")
    else:
        value = sys.stdin.readline().rstrip("\n")
    if not value:
        raise UsageError("no sign-off secret given (it is read from the terminal or stdin)")
    return value


def _sign(
    run: str, department: str, decision: str, name: str, comment: str, checked: bool = False
) -> None:
    """Answer a sign-off gate for one department, as the UI's form does, and say what came of it."""
    from cutover.flows.gate_client import answer_of, checklist_items, one_paused, resume

    secret = read_secret(department)  # refused before anything is sent when there is none
    items = checklist_items(one_paused(run))
    if items and decision == "approve" and not checked:
        raise UsageError(
            "this is a manual step's checklist: confirm every item is done with --checked "
            "(`cutover gate list` shows them)"
        )
    answer: dict[str, object] = {
        "department": department,
        "decision": decision,
        "name": name,
        "secret": secret,
        "comment": comment,
        **dict.fromkeys(items, decision == "approve"),
    }
    flow_run = resume(run, answer)
    typer.echo(f"{flow_run.name}: answer sent; waiting for the run to take it…", err=True)
    outcome = answer_of(flow_run)
    if outcome is None:
        typer.echo(f"{flow_run.name}: {department}: {decision} recorded; the run goes on")
        return
    typer.echo(f"{flow_run.name}: {outcome}")
    if "refused" in outcome or "locked" in outcome or "needs its reason" in outcome:
        raise typer.Exit(1)


@gate_app.command("decide")
def gate_decide(
    run: Annotated[str, typer.Argument(help="Run key or flow-run id.", show_default=False)],
    action: Annotated[
        str,
        typer.Option(
            "--action",
            "-a",
            help="retry, skip, rollback; continue at a budget gate.",
            show_default=False,
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", "-r", show_default=False)],
    name: Annotated[str, typer.Option("--name", "-n", show_default=False)],
) -> None:
    """Answer a decision gate after a failure."""
    from cutover.flows.gate_client import resume

    if action not in ("retry", "skip", "rollback", "continue"):
        raise UsageError(
            "--action: retry, skip or rollback (a decision gate); continue or rollback "
            "(a budget gate)"
        )
    flow_run = resume(run, {"action": action, "reason": reason, "name": name})
    typer.echo(f"{flow_run.name}: {action} ({reason})")


def register(app: typer.Typer) -> None:
    app.add_typer(gate_app, name="gate")
