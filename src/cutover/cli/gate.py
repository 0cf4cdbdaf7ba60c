"""`cutover gate list|approve|hold|decide`: sign off or decide a paused cutover from a terminal."""

from __future__ import annotations

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
    from cutover.flows.gate_client import awaited_departments, paused_runs, waiting_for

    runs = paused_runs(run)
    if not runs:
        typer.echo("nothing is waiting for a decision")
        return
    for flow_run in runs:
        schema = waiting_for(flow_run)
        props = schema.get("properties", {})
        awaited = awaited_departments(schema)
        kind = "sign-off" if "department" in props else "decision"
        extra = f" — waiting for: {', '.join(map(str, awaited))}" if awaited else ""
        typer.echo(
            f"{flow_run.name} ({flow_run.id}): {kind} gate {flow_run.state.state_details.pause_key}{extra}"
        )


@gate_app.command("approve")
def gate_approve(
    run: Annotated[str, typer.Argument(help="Run key or flow-run id.", show_default=False)],
    department: Annotated[str, typer.Option("--department", "-d", show_default=False)],
    name: Annotated[str, typer.Option("--name", "-n", help="Who signs.", show_default=False)],
    comment: Annotated[str, typer.Option("--comment", "-m")] = "",
) -> None:
    """Approve a gate for one department."""
    flow_run = _sign(run, department, "approve", name, comment)
    typer.echo(f"{flow_run}: {department} approved by {name}")


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
    flow_run = _sign(run, department, "hold", name, comment)
    typer.echo(f"{flow_run}: {department} holds ({comment})")


def _sign(run: str, department: str, decision: str, name: str, comment: str) -> str:
    """Answer a sign-off gate for one department, as the UI's form does."""
    from cutover.flows.gate_client import resume

    answer = {"department": department, "decision": decision, "name": name, "comment": comment}
    return resume(run, answer)


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
    typer.echo(f"{flow_run}: {action} ({reason})")


def register(app: typer.Typer) -> None:
    app.add_typer(gate_app, name="gate")
