"""`cutover migrate copy|catchup|drain|verify`: the data plane for operators.

Every command names a plan, an environment and a system (and `--step` when the
system has several migrate steps); the stores and the mapping come from the plan.
On a terminal a rich progress bar shows rows, rows/s, ETA and lag; elsewhere a plain
line every few seconds goes to stderr (`cli.progress`). Results go to stdout. Heavy
imports happen inside the commands. `status`, `rejects` and `capture` live in
`cli.migrate_status`; the options every command shares in `cli.migrate_options`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cutover.errors import StepError, UsageError

from . import migrate_status
from .migrate_options import EnvOpt, JobOpt, JsonOpt, PlanArg, StepOpt, SystemOpt, bind, emit
from .progress import progress_view

if TYPE_CHECKING:
    from cutover.migrate.copy import CopyReport
    from cutover.migrate.throttle import Throttle

migrate_app = typer.Typer(
    name="migrate",
    help="Move a system's data to its new store while writes go on: copy, catch up, drain, verify.",
    no_args_is_help=True,
)


class PathOption(StrEnum):
    auto = "auto"
    sql = "sql"
    python = "python"


PathOpt = Annotated[
    PathOption, typer.Option("--path", help="auto picks sql when both stores share a server.")
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Copy streams (default on 500k+ rows into PostgreSQL: 2 for the python path, "
        "2 for the sql path at --nice-ratio 0; else 1).",
    ),
]
ChunkRowsOpt = Annotated[
    int, typer.Option("--chunk-rows", min=1, help="Rows per chunk and checkpoint.")
]
NiceRatioOpt = Annotated[
    float | None,
    typer.Option(
        "--nice-ratio",
        min=0.0,
        help="A fixed throttle: sleep this times each chunk's duration (0 = full speed).",
    ),
]
KeepWritesOpt = Annotated[
    float,
    typer.Option(
        "--keep-writes",
        min=0.0,
        max=1.0,
        help="Adaptive throttle: keep live writes at this share of their rate.",
    ),
]
ThrottleFlagOpt = Annotated[
    Path | None,
    typer.Option("--throttle-flag", help="While this file exists, the copy pauses."),
]
RejectsOpt = Annotated[
    Path | None, typer.Option("--rejects", help="Write the reject file here (JSON lines).")
]
BatchOpt = Annotated[int, typer.Option("--batch", min=1, help="Changes per applied batch.")]
FreezeCommandOpt = Annotated[
    str | None,
    typer.Option(
        "--freeze-command", help="Shell command that freezes (buffers) the system's writes."
    ),
]
UnfreezeCommandOpt = Annotated[
    str | None,
    typer.Option(
        "--unfreeze-command",
        help="Shell command that resumes writes; always run after a freeze.",
    ),
]
SwitchCommandOpt = Annotated[
    str | None,
    typer.Option(
        "--switch-command",
        help="Shell command run after verification passes, before unfreezing.",
    ),
]
AlreadyFrozenOpt = Annotated[
    bool, typer.Option("--already-frozen", help="Writes are already held; do not freeze.")
]
NoVerifyOpt = Annotated[bool, typer.Option("--no-verify", help="Skip verification (not advised).")]


def register(app: typer.Typer) -> None:
    """Add `cutover migrate ...` to the main command."""
    app.add_typer(migrate_app, name="migrate")


@migrate_app.command("copy")
def copy_command(
    plan: PlanArg,
    env: EnvOpt,
    system: SystemOpt,
    step: StepOpt = None,
    job: JobOpt = None,
    path: PathOpt = PathOption.auto,
    workers: WorkersOpt = None,
    chunk_rows: ChunkRowsOpt = 20_000,
    nice_ratio: NiceRatioOpt = None,
    keep_writes: KeepWritesOpt = 0.95,
    throttle_flag: ThrottleFlagOpt = None,
    rejects: RejectsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Install change capture and copy a snapshot in checkpointed chunks (resumes a job under way)."""
    from cutover.migrate.copy import run_copy

    b = bind(plan, env, system, step)
    with progress_view("copy") as view:
        report = run_copy(
            b.source,
            b.target,
            b.mapping,
            job=job,
            path=path.value,
            workers=workers,
            chunk_rows=chunk_rows,
            throttle=_throttle(keep_writes, nice_ratio, throttle_flag),
            rejects=rejects,
            progress=view,
        )
    emit(asdict(report), as_json, _copy_text(report))


def _throttle(keep_writes: float, nice_ratio: float | None, flag_file: Path | None) -> Throttle:
    """The adaptive throttle, or the fixed one when --nice-ratio is given."""
    from cutover.migrate.throttle import Throttle

    flag = str(flag_file) if flag_file else None
    if nice_ratio is None:
        return Throttle(keep_writes=keep_writes, flag_file=flag)
    return Throttle(keep_writes=None, nice_ratio=nice_ratio, flag_file=flag)


def _copy_text(report: CopyReport) -> str:
    text = (
        f"copy {report.job}: {report.rows:,} rows, {report.rejected:,} rejected, "
        f"{report.seconds:.1f}s ({report.rows_per_s:,.0f} rows/s), path {report.path}: "
        f"{report.path_reason}" + (" (resumed)" if report.resumed else "")
    )
    if report.rejects_file:
        text += f"\nrejects written to {report.rejects_file}"
    return text


@migrate_app.command("catchup")
def catchup_command(
    plan: PlanArg,
    env: EnvOpt,
    system: SystemOpt,
    step: StepOpt = None,
    job: JobOpt = None,
    max_lag: Annotated[
        str | None,
        typer.Option(
            "--max-lag",
            help="Stop when the oldest change waiting is younger (default: the step's max_lag).",
        ),
    ] = None,
    max_lag_entries: Annotated[int, typer.Option("--max-lag-entries", min=0)] = 5_000,
    batch: BatchOpt = 5_000,
    timeout: Annotated[
        str | None, typer.Option("--timeout", help="Give up after this long (e.g. 30m).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep applying until --timeout (or Ctrl-C).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply captured changes to the target until lag is under the thresholds."""
    from cutover.migrate.catchup import catch_up

    b = bind(plan, env, system, step)
    if follow and timeout is None:
        raise UsageError("--follow runs until --timeout; give one (e.g. --timeout 1h)")
    with progress_view("catch-up") as view:
        report = catch_up(
            b.source,
            b.target,
            b.mapping,
            job=job,
            max_lag_s=_seconds(max_lag, "--max-lag") if max_lag else b.max_lag_s,
            max_lag_entries=max_lag_entries,
            batch=batch,
            timeout_s=_seconds(timeout, "--timeout") if timeout else None,
            follow=follow,
            progress=view,
        )
    emit(
        asdict(report),
        as_json,
        f"catch-up {report.job}: {report.entries:,} changes in {report.seconds:.1f}s "
        f"({report.entries_per_s:,.0f}/s); lag {report.lag_entries:,} entries, {report.lag_s:.2f}s; "
        + ("converged" if report.converged else "NOT converged"),
    )
    if not report.converged and not follow:
        raise typer.Exit(1)


def _seconds(text: str, option: str) -> float:
    from cutover.plan.durations import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _shell(command: str | None, what: str, system: str) -> Callable[[], None] | None:
    """The shell command as a callable that raises StepError when it fails; None for no command."""
    if command is None:
        return None

    def run() -> None:
        done = subprocess.run(command, shell=True, check=False)
        if done.returncode != 0:
            raise StepError(
                f"the {what} command exited with {done.returncode}", system=system, step="drain"
            )

    return run


@migrate_app.command("drain")
def drain_command(
    plan: PlanArg,
    env: EnvOpt,
    system: SystemOpt,
    step: StepOpt = None,
    job: JobOpt = None,
    freeze_command: FreezeCommandOpt = None,
    unfreeze_command: UnfreezeCommandOpt = None,
    switch_command: SwitchCommandOpt = None,
    already_frozen: AlreadyFrozenOpt = False,
    no_verify: NoVerifyOpt = False,
    batch: BatchOpt = 5_000,
    as_json: JsonOpt = False,
) -> None:
    """Final drain: freeze writes, apply the last changes, verify, switch, unfreeze; prints the pause."""
    from cutover.migrate.drain import final_drain

    if (freeze_command is None) == (not already_frozen):
        raise UsageError("give either --freeze-command CMD or --already-frozen")
    b = bind(plan, env, system, step)
    with progress_view("drain") as view:
        report = final_drain(
            b.source,
            b.target,
            b.mapping,
            job=job,
            freeze=_shell(freeze_command, "freeze", system),
            unfreeze=_shell(unfreeze_command, "unfreeze", system),
            switch=_shell(switch_command, "switch", system),
            verify=not no_verify,
            max_lag_s=b.max_lag_s,
            batch=batch,
            progress=view,
        )
    verdict = "not verified" if report.verification is None else report.verification.summary()
    emit(
        asdict(report),
        as_json,
        f"drain {report.job}: write pause {report.pause_s:.3f}s, {report.drained_entries:,} last "
        f"changes applied, {report.rechecked_keys:,} changed keys re-verified\n{verdict}",
    )


@migrate_app.command("verify")
def verify_command(
    plan: PlanArg,
    env: EnvOpt,
    system: SystemOpt,
    step: StepOpt = None,
    job: JobOpt = None,
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", min=1)] = 10_000,
    as_json: JsonOpt = False,
) -> None:
    """Compare source and target: counts, every row (joined on one server, chunk checksums
    across servers), conservation per member (exit 1 on any difference)."""
    from cutover.migrate.verification import verify

    b = bind(plan, env, system, step)
    report = verify(
        b.source,
        b.target,
        b.mapping,
        job=job,
        checks=b.checks,
        chunk_rows=chunk_rows,
        raise_on_mismatch=False,
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str))
    else:
        typer.echo(report.summary())
        for problem in report.problems:
            typer.echo(f"  - {problem}")
        for chunk in report.mismatched[:10]:
            for row in chunk.rows[:10]:
                fields = "; ".join(
                    f"{k}: expected {e!r}, found {f!r}" for k, (e, f) in row.fields.items()
                )
                typer.echo(f"    key {row.key!r}: {row.kind}" + (f" ({fields})" if fields else ""))
    if not report.ok:
        raise typer.Exit(1)


migrate_status.add_to(migrate_app)
