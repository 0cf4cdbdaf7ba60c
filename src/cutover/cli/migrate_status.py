"""`cutover migrate status|rejects|capture`: what a migration job holds, read from its stores.

These commands only look at (or set up) the stores; `cli.migrate` adds them to
the `cutover migrate` group with `add_to`. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .migrate_options import EnvOpt, JobOpt, JsonOpt, PlanArg, StepOpt, SystemOpt, bind

capture_app = typer.Typer(
    name="capture", help="Change capture on a store: install, status, remove.", no_args_is_help=True
)

ReverseOpt = Annotated[
    bool, typer.Option("--reverse", help="The target table (reverse capture, for rollback).")
]


def add_to(group: typer.Typer) -> None:
    """Add `status`, `rejects` and the `capture` group to `cutover migrate`."""
    group.command("status")(status_command)
    group.command("rejects")(rejects_command)
    group.add_typer(capture_app)


def status_command(
    plan: PlanArg,
    env: EnvOpt,
    system: SystemOpt,
    step: StepOpt = None,
    job: JobOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Where the job stands: copy, applied position, lag, capture, rejects (read from the stores)."""
    from cutover.migrate.state import status

    b = bind(plan, env, system, step)
    s = status(b.source, b.target, b.mapping, job=job)
    if as_json:
        typer.echo(json.dumps(s.to_dict(), default=str))
        return
    copy_state = "done" if s.copy_done else ("under way" if s.started else "not started")
    lines = [
        f"job {s.job} · path {s.path}",
        f"copy: {copy_state}, {s.rows_copied:,} rows, {s.rejected:,} rejected, "
        f"{sum(1 for x in s.slices if x.done)}/{len(s.slices)} slices done",
    ]
    if s.capture is not None:
        cap = s.capture
        lines.append(
            f"capture on source: {'installed' if cap.installed else 'not installed'}, head {cap.head:,}, "
            f"{cap.entries:,} entries kept"
        )
        lines.append(
            f"catch-up: applied {s.applied_pos:,} ({s.applied_entries:,} changes), "
            f"lag {s.lag_entries:,} entries / {s.lag_s:.2f}s"
        )
    if s.reverse_capture is not None:
        lines.append(
            f"reverse capture on target: {'installed' if s.reverse_capture.installed else 'not installed'}"
        )
    typer.echo("\n".join(lines))


def rejects_command(
    plan: PlanArg,
    env: EnvOpt,
    system: SystemOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="The reject file to write.")],
    step: StepOpt = None,
    job: JobOpt = None,
) -> None:
    """Write the reject file: every source row that failed cleansing, with the reason."""
    from cutover.migrate.state import write_rejects

    b = bind(plan, env, system, step)
    count = write_rejects(b.source, b.target, b.mapping, out, job=job)
    typer.echo(f"{count:,} rejected rows written to {out}")


def _capture(
    plan: Path, env: str, system: str, step: str | None, reverse: bool, action: str
) -> None:
    from cutover.migrate import capture

    b = bind(plan, env, system, step)
    end = b.target if reverse else b.source
    where = f"{'target' if reverse else 'source'} {end.label}"
    if action == "install":
        s = capture.install_capture(end.config, b.mapping, reverse=reverse, label=end.label)
        typer.echo(f"capture installed on {where}: head {s.head:,}")
    elif action == "remove":
        capture.remove_capture(end.config, b.mapping, reverse=reverse, label=end.label)
        typer.echo(f"capture removed from {where}")
    else:
        s = capture.capture_status(end.config, b.mapping, reverse=reverse, label=end.label)
        state = "installed" if s.installed else "not installed"
        age = f", oldest {s.oldest_age_s:.1f}s old" if s.oldest_age_s is not None else ""
        typer.echo(
            f"capture on {where} ({s.table}): {state}, head {s.head:,}, {s.entries:,} entries{age}"
        )


@capture_app.command("install")
def capture_install(
    plan: PlanArg, env: EnvOpt, system: SystemOpt, step: StepOpt = None, reverse: ReverseOpt = False
) -> None:
    """Install change capture (triggers + changelog); idempotent."""
    _capture(plan, env, system, step, reverse, "install")


@capture_app.command("status")
def capture_status_command(
    plan: PlanArg, env: EnvOpt, system: SystemOpt, step: StepOpt = None, reverse: ReverseOpt = False
) -> None:
    """Show whether capture is installed and how much the changelog holds."""
    _capture(plan, env, system, step, reverse, "status")


@capture_app.command("remove")
def capture_remove(
    plan: PlanArg, env: EnvOpt, system: SystemOpt, step: StepOpt = None, reverse: ReverseOpt = False
) -> None:
    """Remove change capture (triggers and changelog): the undo of install."""
    _capture(plan, env, system, step, reverse, "remove")
