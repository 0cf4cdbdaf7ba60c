"""`cutover run`, `rollback`, `journal`: run a cutover, take it back, read its audit log.

Prefect is imported inside the commands that need it, never at import time, so
`cutover validate` and friends stay fast. What these commands refuse (production
with a compressed clock or automatic answers), the flows refuse too: the guard is
in the `RunRequest` every flow starts from.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cutover.errors import UsageError
from cutover.secrets import hide_password

from . import interrupt
from .options import (
    BaseUrlOption,
    DataRootOption,
    JournalOption,
    JsonOption,
    PlanArgument,
    VerboseOption,
    check_environment,
    default_journal,
    default_run_key,
    make_request,
)

if TYPE_CHECKING:
    from cutover.engine.results import RunSummary

RunEnvOption = Annotated[
    str,
    typer.Option(
        "--env",
        help="Environment of the plan to run against (spelled out).",
        show_default=False,
    ),
]
TimeScaleOption = Annotated[
    float,
    typer.Option(
        "--time-scale", min=1.0, help="Run N times faster than the plan's clock (drills)."
    ),
]
AutoApproveOption = Annotated[
    bool, typer.Option("--auto-approve", help="Approve every gate automatically (drills only).")
]
RunKeyOption = Annotated[
    str | None,
    typer.Option("--run-key", help="Resume (or name) a run: the same key skips what is done."),
]
OnFailureOption = Annotated[
    str | None,
    typer.Option(
        "--on-failure",
        help="Answer decision gates automatically: retry, skip or rollback (drills).",
    ),
]
SkipIdleOption = Annotated[
    bool,
    typer.Option("--skip-idle", help="Drills: jump the clock over idle time between phases."),
]
DeploymentOption = Annotated[
    bool,
    typer.Option(
        "--deployment",
        help="Start the run from its deployment (`cutover deploy`): on the control pool's "
        "worker, each placed system on its pool's worker; follow it here.",
    ),
]
LocalOption = Annotated[
    bool,
    typer.Option(
        "--local", help="Run every system in this process, whatever pools the plan names."
    ),
]

EXIT_ROLLED_BACK = 3
"""`cutover run` exit codes: 0 completed, 3 rolled back (or a rollback decided),
4 stopped at a gate nobody signed in time (GateTimeout), 2 bad input, 1 anything else."""


def run(
    plan: PlanArgument,
    env: RunEnvOption,
    time_scale: TimeScaleOption = 1.0,
    auto_approve: AutoApproveOption = False,
    run_key: RunKeyOption = None,
    journal: JournalOption = None,
    base_url: BaseUrlOption = None,
    on_failure: OnFailureOption = None,
    json_out: JsonOption = False,
    skip_idle: SkipIdleOption = False,
    data_root: DataRootOption = None,
    deployment: DeploymentOption = False,
    local: LocalOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Run a cutover plan as a Prefect flow; the same --run-key resumes a crashed run.

    On a terminal it shows the run live; otherwise stdout carries one JSON line per event.
    Exit code 0 completed, 3 rolled back, 4 stopped at a gate that timed out, 2 bad input.
    """
    from cutover.flows.launch import (
        RunLinks,
        check_configured_server,
        default_workdir,
        execute_run,
    )
    from cutover.plan import build_timeline, load_plan

    from .live import Session, log_path_for

    loaded = load_plan(plan)  # a plan that fails lint never starts a run
    check_environment(list(loaded.plan.environments), env)
    if on_failure not in (None, "retry", "skip", "rollback"):
        raise UsageError("--on-failure: use retry, skip or rollback")
    if deployment and local:
        raise UsageError("--deployment and --local: choose one (a deployment runs on workers)")
    fields: dict[str, object] = {
        "scale": time_scale,
        "auto_approve": auto_approve,
        "on_failure": on_failure,
        "skip_idle": skip_idle,
        "local": local,
    }
    key = run_key or default_run_key(plan, env)
    if deployment:
        _run_from_deployment(plan, env, key, fields, base_url, json_out)
        return
    journal = journal or default_journal()
    request = make_request(
        plan_path=str(plan.resolve()),
        env=env,
        run_key=key,
        journal=journal,
        workdir=str(default_workdir(journal, key)),
        base_url=base_url,
        data_root=str(data_root.resolve()) if data_root else None,
        **fields,
    )
    workdir = Path(request.workdir)
    check_configured_server()  # a server that will not have us: one line, before any output
    session = Session(log_path_for(workdir), title="cutover run", verbose=verbose)
    links = RunLinks(key, [d.id for d in loaded.plan.departments])
    try:
        with session:
            with session.follow(
                journal=journal,
                run_key=key,
                plan=loaded.plan,
                timeline=build_timeline(loaded.plan, env=env),
                outbox=workdir / "notices-outbox.jsonl",
                links=links,
            ):
                summary = execute_run(request)
            session.summary(summary.model_dump(mode="json"))
    except (KeyboardInterrupt, Exception) as exc:
        if not (isinstance(exc, KeyboardInterrupt) or interrupt.seen()):
            raise
        typer.echo(
            f"interrupted: run {key} stopped (Crashed in Prefect); "
            f"`cutover run {plan} --env {env} --run-key {key}` resumes it, "
            "skipping what is done",
            err=True,
        )
        raise typer.Exit(130) from None
    _print_run(summary, plan, env, key, json_out and session.tty, err=not session.tty)
    ui = links.ui()
    for label, url in links.links(ui, every_department=True) if ui else []:
        typer.echo(f"  {label}: {url}", err=not session.tty)
    if summary.outcome != "completed":
        raise typer.Exit(EXIT_ROLLED_BACK)


def _run_from_deployment(
    plan: Path,
    env: str,
    key: str,
    fields: dict[str, object],
    base_url: str | None,
    json_out: bool,
    flow: str = "cutover",
) -> None:
    """Start `<flow>/<plan>-<env>` with this run's key and options; follow it to its end."""
    from cutover.errors import GateTimeout
    from cutover.flows import remote
    from cutover.flows.names import deployment_name

    name = deployment_name(plan.stem, env)
    deployed = remote.deployed_request(flow, name)
    if deployed.plan_path != str(plan.resolve()):
        raise UsageError(
            f"deployment {flow}/{name} runs {deployed.plan_path}, not {plan.resolve()}: "
            f"run `cutover deploy {plan} --env {env}` to point it at this plan"
        )
    changes = {k: v for k, v in fields.items() if k != "local"}
    if base_url:
        changes["base_url"] = base_url
    request = make_request(**{**deployed.model_dump(), **changes, "run_key": key})
    flow_run = remote.start(flow, name, request)
    # without a terminal stdout carries only the final JSON line; the follow lines: stderr
    err = not sys.stdout.isatty()
    page = _v2(remote.ui_url(flow_run))
    typer.echo(f"run {key}: started from {flow}/{name}; watch it at {page}", err=err)
    try:
        end = remote.follow(flow_run, lambda line: typer.echo(f"run {key}: {line}", err=err))
    except KeyboardInterrupt:
        typer.echo(f"detached: run {key} goes on on its worker ({page})", err=err)
        raise typer.Exit(130) from None
    typer.echo(
        f"run {key}: {end.outcome}" + (f" ({end.message})" if end.state != "Completed" else ""),
        err=err,
    )
    summary = {"run_key": key, "flow_run": flow_run, "outcome": end.outcome}
    if err:
        typer.echo(json.dumps({"event": "summary", **summary}))
    elif json_out:
        typer.echo(json.dumps(summary))
    if end.outcome in ("rolled-back", "rollback-requested"):
        raise typer.Exit(EXIT_ROLLED_BACK)
    if end.gate_timed_out:
        raise typer.Exit(GateTimeout.exit_code)
    if end.outcome != "completed":
        raise typer.Exit(1)


def _v2(link: str) -> str:
    """A flow run's page in the V2 UI (Prefect's own links open the old one)."""
    return link.replace("/runs/flow-run/", "/v2/runs/flow-run/", 1) if "/v2/" not in link else link


def _print_run(
    summary: RunSummary, plan: Path, env: str, key: str, json_out: bool, *, err: bool = False
) -> None:
    """The run's outcome line, what a rollback did or the command to start one, the JSON
    (`err`: the outcome line on stderr, as stdout carries the run's events)."""
    typer.echo(
        f"run {key}: {summary.outcome} — {summary.systems} systems, "
        f"{summary.notices} notices published",
        err=err,
    )
    if summary.undelivered:
        typer.echo(
            "notices NOT delivered: "
            + ", ".join(f"{sink} {n}" for sink, n in sorted(summary.undelivered.items()))
            + f" (why: `notice_not_delivered` in {Path(summary.workdir) / 'cutover.log'})",
            err=True,
        )
    if summary.rollback is not None:
        typer.echo(
            f"rolled back {len(summary.rollback.rolled_back)} systems in "
            f"{summary.rollback.rto_seconds:.1f} s after: {summary.stopped_at}",
            err=True,
        )
    if summary.outcome == "rollback-requested":
        typer.echo(
            f"a rollback was decided: run `cutover rollback {plan} --env {env} --run-key {key}`",
            err=True,
        )
    if json_out:
        typer.echo(summary.model_dump_json())


def rollback_cmd(
    plan: PlanArgument,
    env: Annotated[
        str, typer.Option("--env", help="Environment (spelled out).", show_default=False)
    ],
    run_key: Annotated[
        str, typer.Option("--run-key", help="The run to roll back.", show_default=False)
    ],
    journal: JournalOption = None,
    base_url: BaseUrlOption = None,
    data_root: DataRootOption = None,
    json_out: JsonOption = False,
    deployment: Annotated[
        bool,
        typer.Option(
            "--deployment",
            help="Start it from its deployment (`cutover deploy`) on the control pool's worker.",
        ),
    ] = False,
) -> None:
    """Roll a run back: every touched system to the legacy program, writes carried back. Resumable."""
    from cutover.flows.launch import default_workdir, execute_rollback
    from cutover.journal import Journal
    from cutover.plan import load_plan

    loaded = load_plan(plan)
    check_environment(list(loaded.plan.environments), env)
    if deployment:  # the worker checks the journal (this host may not reach it)
        _run_from_deployment(plan, env, run_key, {}, base_url, json_out, "cutover-rollback")
        return
    journal = journal or default_journal()
    if run_key not in Journal(journal, existing=True).run_keys():
        raise UsageError(
            f"no run {run_key!r} in the journal {hide_password(journal)}: nothing to roll back"
        )
    request = make_request(
        plan_path=str(plan.resolve()),
        env=env,
        run_key=run_key,
        journal=journal,
        workdir=str(default_workdir(journal, run_key)),
        base_url=base_url,
        data_root=str(data_root.resolve()) if data_root else None,
    )
    result = execute_rollback(request)
    typer.echo(f"rolled back {len(result.rolled_back)} systems in {result.rto_seconds:.1f} s")
    if json_out:
        typer.echo(result.model_dump_json())


class JournalFormat(StrEnum):
    text = "text"
    json = "json"


def journal_cmd(
    run_key: Annotated[str, typer.Argument(help="The run key.", show_default=False)],
    journal: JournalOption = None,
    format: Annotated[JournalFormat, typer.Option("--format", "-f")] = JournalFormat.text,
) -> None:
    """The audit log of a run: every step's start and outcome, every gate decision."""
    from cutover.journal import Journal

    from .journal_view import journal_json, print_journal

    journal = journal or default_journal()
    store = Journal(journal, existing=True)
    if run_key not in store.run_keys():
        raise UsageError(f"no run {run_key!r} in the journal {hide_password(journal)}")
    if format is JournalFormat.json:
        typer.echo(json.dumps(journal_json(store, run_key), indent=2, default=str))
    else:
        print_journal(store, run_key)


def register(app: typer.Typer) -> None:
    app.command(name="run")(run)
    app.command(name="rollback")(rollback_cmd)
    app.command(name="journal")(journal_cmd)
