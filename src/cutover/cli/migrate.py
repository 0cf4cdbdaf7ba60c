"""`cutover migrate copy|catchup|drain|verify|status|rejects|capture`: the data plane for operators.

Every command names a plan, an environment and a system (and `--step` when the
system has several migrate steps); the stores and the mapping come from the plan.
On a terminal a rich progress bar shows rows, rows/s, ETA and lag; elsewhere a plain
line every few seconds goes to stderr. Results go to stdout. Heavy imports happen
inside the commands.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cutover.errors import StepError, UsageError

if TYPE_CHECKING:
    from cutover.migrate.binding import Binding
    from cutover.migrate.progress import Progress

migrate_app = typer.Typer(
    name="migrate",
    help="Move a system's data to its new store while writes go on: copy, catch up, drain, verify.",
    no_args_is_help=True,
)
capture_app = typer.Typer(
    name="capture", help="Change capture on a store: install, status, remove.", no_args_is_help=True
)
migrate_app.add_typer(capture_app)


class PathOption(StrEnum):
    auto = "auto"
    sql = "sql"
    python = "python"


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


def register(app: typer.Typer) -> None:
    """Add `cutover migrate ...` to the main command."""
    app.add_typer(migrate_app, name="migrate")


def _bind(plan: Path, env: str, system: str, step: str | None) -> Binding:
    from cutover.migrate.binding import bind

    return bind(plan, env, system, step)


@contextmanager
def _progress_view(label: str) -> Iterator[Callable[[Progress], None]]:
    """A progress callback: a rich bar on a terminal, a plain line every 5 s otherwise."""
    if not sys.stderr.isatty():
        last = [0.0]

        def plain(p: Progress) -> None:
            if time.monotonic() - last[0] >= 5.0:
                last[0] = time.monotonic()
                typer.echo(p.line(), err=True)

        yield plain
        return
    from rich.console import Console
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]}"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[eta]}"),
        TextColumn("{task.fields[lag]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = bar.add_task(label, total=None, rows="", rate="", eta="", lag="")

    def draw(p: Progress) -> None:
        rows = f"{p.rows_done:,}" + (f"/{p.rows_total:,}" if p.rows_total else "") + " rows"
        lag = f"lag {p.lag_entries:,} / {p.lag_s:.1f}s" if p.phase in ("catch-up", "drain") else ""
        bar.update(
            task,
            completed=p.rows_done,
            total=p.rows_total,
            description=f"{p.phase} [{p.path}]",
            rows=rows,
            rate=f"{p.rows_per_s:,.0f}/s",
            lag=lag,
            eta=f"eta {p.eta_s:,.0f}s" if p.eta_s is not None else "",
        )

    with bar:
        yield draw


def _emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(json.dumps(data, default=str))
    else:
        typer.echo(text)


@migrate_app.command("copy")
def copy_command(
    plan: PlanArg,
    env: EnvOpt,
    system: SystemOpt,
    step: StepOpt = None,
    job: JobOpt = None,
    path: Annotated[
        PathOption, typer.Option("--path", help="auto picks sql when both stores share a server.")
    ] = PathOption.auto,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Copy streams (default on 500k+ rows into PostgreSQL: 2 for the python path, "
            "2 for the sql path at --nice-ratio 0; else 1).",
        ),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows per chunk and checkpoint.")
    ] = 20_000,
    nice_ratio: Annotated[
        float | None,
        typer.Option(
            "--nice-ratio",
            min=0.0,
            help="A fixed throttle: sleep this times each chunk's duration (0 = full speed).",
        ),
    ] = None,
    keep_writes: Annotated[
        float,
        typer.Option(
            "--keep-writes",
            min=0.0,
            max=1.0,
            help="Adaptive throttle: keep live writes at this share of their rate.",
        ),
    ] = 0.95,
    throttle_flag: Annotated[
        Path | None,
        typer.Option("--throttle-flag", help="While this file exists, the copy pauses."),
    ] = None,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Write the reject file here (JSON lines).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Install change capture and copy a snapshot in checkpointed chunks (resumes a job under way)."""
    from cutover.migrate.copy import run_copy
    from cutover.migrate.throttle import Throttle

    b = _bind(plan, env, system, step)
    flag = str(throttle_flag) if throttle_flag else None
    throttle = (
        Throttle(keep_writes=keep_writes, flag_file=flag)
        if nice_ratio is None
        else Throttle(keep_writes=None, nice_ratio=nice_ratio, flag_file=flag)
    )
    with _progress_view("copy") as view:
        report = run_copy(
            b.source,
            b.target,
            b.mapping,
            job=job,
            path=path.value,
            workers=workers,
            chunk_rows=chunk_rows,
            throttle=throttle,
            rejects=rejects,
            progress=view,
        )
    text = (
        f"copy {report.job}: {report.rows:,} rows, {report.rejected:,} rejected, "
        f"{report.seconds:.1f}s ({report.rows_per_s:,.0f} rows/s), path {report.path}: "
        f"{report.path_reason}" + (" (resumed)" if report.resumed else "")
    )
    if report.rejects_file:
        text += f"\nrejects written to {report.rejects_file}"
    _emit(asdict(report), as_json, text)


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
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Changes per applied batch.")
    ] = 5_000,
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

    b = _bind(plan, env, system, step)
    if follow and timeout is None:
        raise UsageError("--follow runs until --timeout; give one (e.g. --timeout 1h)")
    with _progress_view("catch-up") as view:
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
    _emit(
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


def _shell(command: str, what: str, system: str) -> Callable[[], None]:
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
    freeze_command: Annotated[
        str | None,
        typer.Option(
            "--freeze-command", help="Shell command that freezes (buffers) the system's writes."
        ),
    ] = None,
    unfreeze_command: Annotated[
        str | None,
        typer.Option(
            "--unfreeze-command",
            help="Shell command that resumes writes; always run after a freeze.",
        ),
    ] = None,
    switch_command: Annotated[
        str | None,
        typer.Option(
            "--switch-command",
            help="Shell command run after verification passes, before unfreezing.",
        ),
    ] = None,
    already_frozen: Annotated[
        bool, typer.Option("--already-frozen", help="Writes are already held; do not freeze.")
    ] = False,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Skip verification (not advised).")
    ] = False,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Changes per applied batch.")
    ] = 5_000,
    as_json: JsonOpt = False,
) -> None:
    """Final drain: freeze writes, apply the last changes, verify, switch, unfreeze; prints the pause."""
    from cutover.migrate.drain import final_drain

    if (freeze_command is None) == (not already_frozen):
        raise UsageError("give either --freeze-command CMD or --already-frozen")
    b = _bind(plan, env, system, step)
    with _progress_view("drain") as view:
        report = final_drain(
            b.source,
            b.target,
            b.mapping,
            job=job,
            freeze=_shell(freeze_command, "freeze", system) if freeze_command else None,
            unfreeze=_shell(unfreeze_command, "unfreeze", system) if unfreeze_command else None,
            switch=_shell(switch_command, "switch", system) if switch_command else None,
            verify=not no_verify,
            max_lag_s=b.max_lag_s,
            batch=batch,
            progress=view,
        )
    verdict = "not verified" if report.verification is None else report.verification.summary()
    _emit(
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

    b = _bind(plan, env, system, step)
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


@migrate_app.command("status")
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

    b = _bind(plan, env, system, step)
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


@migrate_app.command("rejects")
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

    b = _bind(plan, env, system, step)
    count = write_rejects(b.source, b.target, b.mapping, out, job=job)
    typer.echo(f"{count:,} rejected rows written to {out}")


def _capture(
    plan: Path, env: str, system: str, step: str | None, reverse: bool, action: str
) -> None:
    from cutover.migrate import capture

    b = _bind(plan, env, system, step)
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


ReverseOpt = Annotated[
    bool, typer.Option("--reverse", help="The target table (reverse capture, for rollback).")
]


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
