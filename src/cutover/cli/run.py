"""`cutover run`, `gate`, `journal`, `server`: run and steer a cutover from a terminal.

Prefect is imported inside the commands that need it, never at import time, so
`cutover validate` and friends stay fast.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cutover import logs
from cutover.errors import UsageError

gate_app = typer.Typer(
    help="Sign off or decide a paused cutover from a terminal.", no_args_is_help=True
)
server_app = typer.Typer(help="A real Prefect server for cutovers.", no_args_is_help=True)

DEFAULT_HOME = Path("var/cutover")

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


def default_journal() -> str:
    return os.environ.get("CUTOVER_JOURNAL") or str(DEFAULT_HOME / "journal.db")


def default_run_key(plan: Path, env: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{plan.stem}-{env}-{stamp}"


def check_run_key(key: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,80}", key):
        raise UsageError(f"--run-key {key!r}: use lowercase letters, digits and dashes (max 81)")
    return key


def guard_environment(plan_env: list[str], env: str, scale: float, auto_approve: bool) -> None:
    """Production is reached only by name, in real time, with people signing the gates."""
    if env not in plan_env:
        raise UsageError(f"--env {env!r} is not an environment of the plan ({', '.join(plan_env)})")
    if env == "production" and (scale != 1.0 or auto_approve):
        raise UsageError(
            "production runs in real time with signed gates: --time-scale and --auto-approve "
            "are refused for --env production"
        )


def prefect_settings(scale: float) -> Any:
    """Settings for this process's Prefect client; heartbeats off only for compressed drills."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    # a SQLite-backed server answers 503 while its database is locked: retry longer
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "12")
    os.environ.setdefault("PREFECT_SERVER_EVENTS_RETENTION_PERIOD", "30d")
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    logs.to_prefect()  # cutover's log lines in the runs' logs in the UI

    if scale == 1.0:
        return None
    settings = temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
    settings.__enter__()
    return settings  # keep a reference: collected, it silently reverts


def run(
    plan: Annotated[Path, typer.Argument(help="The plan file.", show_default=False)],
    env: Annotated[
        str,
        typer.Option(
            "--env",
            help="Environment of the plan to run against (spelled out).",
            show_default=False,
        ),
    ],
    time_scale: Annotated[
        float,
        typer.Option(
            "--time-scale", min=1.0, help="Run N times faster than the plan's clock (drills)."
        ),
    ] = 1.0,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Approve every gate automatically (drills only).")
    ] = False,
    run_key: Annotated[
        str | None,
        typer.Option("--run-key", help="Resume (or name) a run: the same key skips what is done."),
    ] = None,
    journal: JournalOption = None,
    base_url: BaseUrlOption = None,
    on_failure: Annotated[
        str | None,
        typer.Option(
            "--on-failure",
            help="Answer decision gates automatically: retry, skip or rollback (drills).",
        ),
    ] = None,
    json_out: JsonOption = False,
    skip_idle: Annotated[
        bool,
        typer.Option("--skip-idle", help="Drills: jump the clock over idle time between phases."),
    ] = False,
    data_root: DataRootOption = None,
) -> None:
    """Run a cutover plan as a Prefect flow; the same --run-key resumes a crashed run."""
    from cutover.plan import load_plan

    loaded = load_plan(plan)  # a plan that fails lint never starts a run
    guard_environment(list(loaded.plan.environments), env, time_scale, auto_approve)
    if on_failure not in (None, "retry", "skip", "rollback"):
        raise UsageError("--on-failure: use retry, skip or rollback")
    if env == "production" and skip_idle:
        raise UsageError("--skip-idle is for drills; production runs on the real clock")
    if env == "production" and on_failure:
        raise UsageError("--on-failure is for drills; production decisions are made by people")
    key = check_run_key(run_key or default_run_key(plan, env))
    summary = execute_run(
        plan=plan,
        env=env,
        run_key=key,
        journal=journal or default_journal(),
        scale=time_scale,
        base_url=base_url,
        auto_approve=auto_approve,
        on_failure=on_failure,
        data_root=data_root,
        skip_idle=skip_idle,
    )
    typer.echo(
        f"run {key}: {summary['outcome']} — {summary['systems']} systems, "
        f"{summary['notices']} notices published"
    )
    if json_out:
        typer.echo(json.dumps(summary))


def execute_run(
    *,
    plan: Path,
    env: str,
    run_key: str,
    journal: str,
    scale: float,
    base_url: str | None,
    auto_approve: bool,
    on_failure: str | None,
    workdir: Path | None = None,
    data_root: Path | None = None,
    skip_idle: bool = False,
    rollback_at: str | None = None,
) -> dict[str, Any]:
    """Run the cutover flow in this process (Prefect's server from PREFECT_API_URL or a temporary one)."""
    keep = prefect_settings(scale)
    from prefect import tags

    from cutover.flows.cutover_flow import cutover

    if workdir is None:
        base = Path(journal).parent if "://" not in journal else DEFAULT_HOME
        workdir = base / "runs" / run_key
    with tags(f"run:{run_key}", f"env:{env}"):
        summary: dict[str, Any] = cutover(
            plan_path=str(plan.resolve()),
            env=env,
            run_key=run_key,
            journal=journal,
            workdir=str(workdir.resolve()),
            scale=scale,
            base_url=base_url,
            auto_approve=auto_approve,
            on_failure=on_failure,
            data_root=str(data_root.resolve()) if data_root else None,
            skip_idle=skip_idle,
            rollback_at=rollback_at,
        )
    del keep
    summary["workdir"] = str(workdir)
    return summary


def execute_rollback(
    *,
    plan: Path,
    env: str,
    run_key: str,
    journal: str,
    scale: float,
    base_url: str | None,
    workdir: Path | None = None,
    data_root: Path | None = None,
    past_point_of_no_return: bool = False,
) -> dict[str, Any]:
    """Run the rollback flow for `run_key` in this process."""
    keep = prefect_settings(scale)
    from prefect import tags

    from cutover.flows.rollback_flow import rollback

    if workdir is None:
        base = Path(journal).parent if "://" not in journal else DEFAULT_HOME
        workdir = base / "runs" / run_key
    with tags(f"run:{run_key}", f"env:{env}", "rollback"):
        result: dict[str, Any] = rollback(
            plan_path=str(plan.resolve()),
            env=env,
            run_key=run_key,
            journal=journal,
            workdir=str(workdir.resolve()),
            scale=scale,
            base_url=base_url,
            data_root=str(data_root.resolve()) if data_root else None,
            past_point_of_no_return=past_point_of_no_return,
        )
    del keep
    return result


def rollback_cmd(
    plan: Annotated[Path, typer.Argument(help="The plan file.", show_default=False)],
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
) -> None:
    """Roll a run back: every touched system to the legacy program, writes carried back. Resumable."""
    from cutover.plan import load_plan

    loaded = load_plan(plan)
    if env not in loaded.plan.environments:
        raise UsageError(f"--env {env!r} is not an environment of the plan")
    journal = journal or default_journal()
    from cutover.journal import Journal

    if run_key not in Journal(journal).run_keys():
        raise UsageError(f"no run {run_key!r} in the journal {journal}: nothing to roll back")
    result = execute_rollback(
        plan=plan,
        env=env,
        run_key=run_key,
        journal=journal,
        scale=1.0,
        base_url=base_url,
        data_root=data_root,
    )
    typer.echo(f"rolled back {len(result['rolled_back'])} systems in {result['rto_seconds']:.1f} s")
    if json_out:
        typer.echo(json.dumps(result))


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

    store = Journal(journal or default_journal())
    if run_key not in store.run_keys():
        raise UsageError(f"no run {run_key!r} in the journal {journal or default_journal()}")
    history = store.history(run_key)
    decisions = store.decisions(run_key)
    done: dict[tuple[str, str, str], int] = {}
    for record in history:
        if record.status == "done":
            done[(record.system, record.step, record.action)] = (
                done.get((record.system, record.step, record.action), 0) + 1
            )
    twice = [k for k, n in done.items() if n > 1]
    if format is JournalFormat.json:
        typer.echo(
            json.dumps(
                {
                    "run_key": run_key,
                    "steps": [
                        {
                            "at": r.at.isoformat(),
                            "system": r.system,
                            "step": r.step,
                            "action": r.action,
                            "status": r.status,
                            "idempotency_key": r.idempotency_key,
                            "detail": r.detail,
                        }
                        for r in history
                    ],
                    "decisions": [
                        {
                            "at": d.at.isoformat(),
                            "gate": d.gate,
                            "department": d.department,
                            "decision": d.decision,
                            "who": d.who,
                            "comment": d.comment,
                        }
                        for d in decisions
                    ],
                    "done_twice": [list(k) for k in twice],
                },
                indent=2,
                default=str,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Journal of {run_key}", title_justify="left")
    for column in ("at (UTC)", "system", "step", "action", "status", "detail"):
        table.add_column(column, overflow="fold")
    for r in history:
        detail = ", ".join(f"{k}={v}" for k, v in r.detail.items())[:120]
        table.add_row(
            r.at.strftime("%H:%M:%S.%f")[:-3], r.system, r.step, r.action, r.status, detail
        )
    console = Console(width=None if Console().is_terminal else 160)
    console.print(table)
    if decisions:
        gates = Table(title="Gate decisions", title_justify="left")
        for column in ("at (UTC)", "gate", "department", "decision", "who", "comment"):
            gates.add_column(column, overflow="fold")
        for d in decisions:
            gates.add_row(
                d.at.strftime("%Y-%m-%d %H:%M:%S"),
                d.gate,
                d.department,
                d.decision,
                d.who,
                d.comment,
            )
        console.print(gates)
    console.print("no step done twice" if not twice else f"[red]done twice: {twice}[/]")


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


@server_app.command("start")
def server_start(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 4200,
    host: Annotated[
        str,
        typer.Option(
            "--host", help="Address to listen on; 0.0.0.0 lets leads on other machines in."
        ),
    ] = "127.0.0.1",
    home: Annotated[
        Path,
        typer.Option(
            "--home", help="PREFECT_HOME for the server (its SQLite database lives here)."
        ),
    ] = DEFAULT_HOME / "prefect",
    auth_secret: Annotated[
        str,
        typer.Option(
            "--auth-secret", help="Name of the secret holding 'user:password' for basic auth."
        ),
    ] = "CUTOVER_SERVER_AUTH",
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="No login at all (only for a server no one else reaches)."),
    ] = False,
) -> None:
    """Start `prefect server start` for cutovers (SQLite, or PostgreSQL via PREFECT_API_DATABASE_CONNECTION_URL), with basic auth and crash detection."""
    from cutover.flows.server import database_description, start_server

    server = start_server(
        home=home,
        port=port,
        host=host,
        auth_secret=None if no_auth else auth_secret,
        require_auth=not no_auth,
    )
    try:
        os.environ.update(server.client_env())
        from cutover.flows.automations import ensure_zombie_automation

        ensure_zombie_automation()
    except BaseException:
        server.stop()
        raise
    typer.echo(f"Prefect server: {server.ui_url}  (log: {server.log_path})")
    typer.echo(f"  database: {database_description(home)}")
    typer.echo(
        f"  login: the UI asks for the {auth_secret} value (user:password)"
        if server.auth
        else "  login: none (--no-auth)"
    )
    typer.echo("  in the terminal that runs or steers the cutover:")
    typer.echo(f"    export PREFECT_API_URL={server.url}")
    if server.auth:
        typer.echo(f'    export PREFECT_API_AUTH_STRING="${auth_secret}"')
    typer.echo("Press Ctrl-C to stop it.")
    server.wait_until_stopped()


def demo(
    plan: Annotated[Path, typer.Option("--plan", help="The plan to play.")] = Path(
        "plans/rewards-tiers.yaml"
    ),
    time_scale: Annotated[
        float | None,
        typer.Option(
            "--time-scale",
            min=1.0,
            help="Plan seconds per real second (default: the plan's active time in about 70 s).",
        ),
    ] = None,
    rate: Annotated[
        float,
        typer.Option("--rate", min=1.0, max=2000.0, help="Simulated transactions per second."),
    ] = 60.0,
    customers: Annotated[
        int, typer.Option("--customers", min=10, max=1_000_000, help="Simulated customers.")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated customers.")] = 7,
    ui: Annotated[
        bool,
        typer.Option(
            "--ui",
            help="Watch it in the Prefect UI: starts `prefect server start` (or uses "
            "PREFECT_API_URL's), prints where to look, keeps it up until Ctrl-C.",
        ),
    ] = False,
    json_out: JsonOption = False,
    home: Annotated[
        Path, typer.Option("--home", help="Where demo runs are kept (one folder per run).")
    ] = Path("var/demo"),
) -> None:
    """The main job on one machine: estate, traffic and the whole cutover, compressed, then reconciled."""
    from cutover.drill.demo import DemoOptions, run_demo

    if not plan.exists():
        raise UsageError(f"{plan}: no such plan (run from the repository root, or give --plan)")
    server: Any = None
    ui_url = ""
    if ui:  # before Prefect is imported: it reads PREFECT_API_URL once
        from cutover.flows.server import start_ui_server, use_running_server

        if os.environ.get("PREFECT_API_URL"):
            ui_url = use_running_server()
        else:
            server = start_ui_server(home / "prefect")
            ui_url = server.ui_url
    try:
        result = run_demo(
            DemoOptions(
                plan=plan,
                time_scale=time_scale,
                rate=rate,
                customers=customers,
                seed=seed,
                ui=ui,
                home=home,
            )
        )
        print_demo_summary(result)
        if ui:
            print_where_to_look(ui_url, plan, result["run_key"])
        if json_out:
            typer.echo(json.dumps(result))
        if server is not None and sys.stdin.isatty():
            typer.echo(f"The Prefect UI stays up at {ui_url}: press Ctrl-C to stop it.", err=True)
            server.wait_until_stopped()
    finally:
        if server is not None:
            server.stop()
    if result["outcome"] != "completed" or not result["reconciled"] or result["refused"]:
        raise typer.Exit(1)


def print_where_to_look(ui_url: str, plan: Path, run_key: str) -> None:
    """Where a department lead finds their systems, the board and the notices of this run."""
    from cutover.plan import load_plan

    departments = [d.id for d in load_plan(plan).plan.departments]
    example = departments[0] if departments else "<department>"
    typer.echo(f"In the Prefect UI ({ui_url}), run {run_key}:")
    typer.echo(f"  one department's systems  {ui_url}/v2/runs?tags=dept:{example}")
    typer.echo(f"    (departments: {', '.join(departments)})")
    typer.echo(f"  the status board          {ui_url}/v2/artifacts/key/board-{run_key}")
    typer.echo(f"  one department's board    {ui_url}/v2/artifacts/key/board-{example}-{run_key}")
    typer.echo(f"  customer notices          {ui_url}/v2/artifacts/key/notices-{run_key}")
    typer.echo("  (docs/ui-for-leads.md walks through each page)")


def drill(
    plan: Annotated[Path, typer.Argument(help="The plan to rehearse.", show_default=False)],
    env: Annotated[
        str,
        typer.Option(
            "--env", help="A simulated environment (never production).", show_default=False
        ),
    ],
    rollback_at: Annotated[
        str | None,
        typer.Option(
            "--rollback-at", help="SYSTEM:STEP after which to roll back, or `end` (after go-live)."
        ),
    ] = None,
    faults: Annotated[
        Path | None,
        typer.Option(
            "--faults", help="Faults file: error rates, latency, failing calls per system."
        ),
    ] = None,
    time_scale: Annotated[
        float | None,
        typer.Option("--time-scale", min=1.0, help="Plan seconds per real second (default: auto)."),
    ] = None,
    rate: Annotated[
        float,
        typer.Option("--rate", min=1.0, max=2000.0, help="Simulated transactions per second."),
    ] = 60.0,
    customers: Annotated[int, typer.Option("--customers", min=10, max=1_000_000)] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    home: Annotated[Path, typer.Option("--home", help="Where drill runs are kept.")] = Path(
        "var/drills"
    ),
    json_out: JsonOption = False,
    past_point_of_no_return: Annotated[
        bool,
        typer.Option(
            "--past-point-of-no-return",
            help="Rehearse a rollback even past the plan's point of no return (drills only).",
        ),
    ] = False,
) -> None:
    """Rehearse the cutover on the simulated estate with traffic, faults and a rollback; then reconcile."""
    from cutover.drill.demo import DemoOptions, run_demo
    from cutover.plan import load_plan

    if env == "production" or env.startswith("prod"):
        raise UsageError(f"--env {env!r}: drills never run against production")
    loaded = load_plan(plan)
    environment = loaded.plan.environments.get(env)
    if environment is None:
        raise UsageError(f"--env {env!r} is not an environment of the plan")
    if not environment.simulated:
        raise UsageError(
            f"--env {env!r} is not simulated (`simulated: true`): drills run on the estate"
        )
    result = run_demo(
        DemoOptions(
            plan=plan,
            env=env,
            time_scale=time_scale,
            rate=rate,
            customers=customers,
            seed=seed,
            home=home,
            rollback_at=rollback_at,
            faults=faults,
            drill=True,
            past_point_of_no_return=past_point_of_no_return,
        )
    )
    print_demo_summary(result)
    if json_out:
        typer.echo(json.dumps(result))
    legacy = loaded.plan.program.legacy
    if result["rolled_back"] and any(p != legacy for p in result["programs"].values()):
        raise typer.Exit(1)
    if not result["reconciled"] or result["refused"]:
        raise typer.Exit(1)


def print_demo_summary(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if Console().is_terminal else 120)
    table = Table(
        title=f"cutover {'drill' if result['run_key'].startswith('drill') else 'demo'} — "
        f"{result['plan']} ({result['seconds']:.0f} s)",
        title_justify="left",
        show_header=False,
    )
    table.add_column("what")
    table.add_column("value")
    ok = "[green]0[/]"
    rows = [
        ("outcome", result["outcome"]),
        (
            "phases / systems / steps done",
            f"{result['phases']} / {result['systems']} / {result['steps']}",
        ),
        ("time scale", f"{result['time_scale']:g}× (idle time skipped)"),
        (
            "transactions sent / acknowledged",
            f"{result['transactions']:,} / {result['acknowledged']:,}",
        ),
        ("lost", ok if result["lost"] == 0 else f"[red]{result['lost']}[/]"),
        ("duplicated", ok if result["duplicated"] == 0 else f"[red]{result['duplicated']}[/]"),
        (
            "refused (outside an announced degradation)",
            ok if result["refused"] == 0 else f"[red]{result['refused']}[/]",
        ),
        ("declined inside announced degradations", f"{result['declined_degraded']:,}"),
        ("longest write pause", f"{result['max_write_pause_s']:.3f} s"),
        (
            "rolled back",
            f"yes, in {result['rto_seconds']:.1f} s (RTO)" if result.get("rolled_back") else "no",
        ),
        ("programs now served", ", ".join(sorted(set(result.get("programs", {}).values())))),
        ("customer notices sent", f"{result['notices']} ({', '.join(result['notice_kinds'])})"),
        ("report", result["report"]),
        ("notices outbox", result["outbox"]),
    ]
    for what, value in rows:
        table.add_row(what, str(value))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command(name="demo")(demo)
    app.command(name="run")(run)
    app.command(name="rollback")(rollback_cmd)
    app.command(name="drill")(drill)
    app.command(name="journal")(journal_cmd)
    app.add_typer(gate_app, name="gate")
    app.add_typer(server_app, name="server")
