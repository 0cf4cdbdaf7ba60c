"""`cutover demo` and `cutover drill`: rehearsals on the simulated estate, and what they print."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cutover.errors import UsageError
from cutover.plan.seeds import copy_seeds, resolve_plan

from .options import JsonOption, VerboseOption

if TYPE_CHECKING:
    from cutover.drill import DemoResult
    from cutover.plan import LoadedPlan

    from .live import Session


PlanNameOption = Annotated[
    str, typer.Option("--plan", help="The plan to play: a file, or a packaged plan's name.")
]
DemoTimeScaleOption = Annotated[
    float | None,
    typer.Option(
        "--time-scale",
        min=1.0,
        help="Plan seconds per real second (default: the plan's active time in about 70 s).",
    ),
]
RateOption = Annotated[
    float,
    typer.Option("--rate", min=1.0, max=2000.0, help="Simulated transactions per second."),
]
CustomersOption = Annotated[
    int, typer.Option("--customers", min=10, max=1_000_000, help="Simulated customers.")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the simulated customers.")]
UiOption = Annotated[
    bool,
    typer.Option(
        "--ui",
        help="Watch it in the Prefect UI: starts `prefect server start` (or uses "
        "PREFECT_API_URL's), prints where to look, keeps it up until Ctrl-C.",
    ),
]
SizeOption = Annotated[
    str | None,
    typer.Option(
        "--size",
        help="`large`: the mission's size, the loyalty core's stores in a scratch PostgreSQL "
        "database seeded with 16,000,000 members and months of history (`small`: the plan's "
        "own stores).",
    ),
]
MembersOption = Annotated[
    int | None,
    typer.Option(
        "--members",
        help="Members to seed into PostgreSQL (implies a sized run; default for "
        "--size large: 16,000,000).",
    ),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="At size: use this PostgreSQL database (two schemas are added and dropped) "
        "instead of a scratch one. The server is $CUTOVER_SCALE_PG (default the local one).",
    ),
]
DemoHomeOption = Annotated[
    Path, typer.Option("--home", help="Where demo runs are kept (one folder per run).")
]


def demo(
    plan: PlanNameOption = "rewards-tiers",
    time_scale: DemoTimeScaleOption = None,
    rate: RateOption = 300.0,
    customers: CustomersOption = 2000,
    seed: SeedOption = 7,
    ui: UiOption = False,
    json_out: JsonOption = False,
    home: DemoHomeOption = Path("var/demo"),
    size: SizeOption = None,
    members: MembersOption = None,
    database: DatabaseOption = None,
    verbose: VerboseOption = False,
) -> None:
    """The main job on one machine: estate, traffic and the whole cutover, compressed, then reconciled."""
    from cutover.drill.size import members_for

    sized = members_for(size, members)
    plan_file = resolve_plan(plan)
    if not ui:  # a server PREFECT_API_URL names that will not have us: one line, first
        from cutover.flows.launch import check_configured_server

        check_configured_server()
    server, ui_url = _ui_server(home) if ui else (None, "")
    try:
        result, session = _rehearse(
            "cutover demo",
            verbose,
            plan=plan_file,
            time_scale=time_scale,
            rate=rate,
            customers=customers,
            seed=seed,
            ui=ui,
            home=home,
            members=sized,
            database=database,
        )
        if ui:
            print_where_to_look(ui_url, plan_file, result.run_key, err=not session.tty)
        if json_out and session.tty:
            typer.echo(json.dumps(result.as_dict()))
        if server is not None and sys.stdin.isatty():
            typer.echo(f"The Prefect UI stays up at {ui_url}: press Ctrl-C to stop it.", err=True)
            server.wait_until_stopped()
    finally:
        if server is not None:
            server.stop()
    if result.outcome != "completed" or not result.ok:
        raise typer.Exit(1)


def _rehearse(title: str, verbose: bool, **options: Any) -> tuple[DemoResult, Session]:
    """Run the demo or drill in the run's live-view session (its folder under `home`), then
    print its table; returns the result and the session."""
    from cutover.drill import DemoOptions, run_demo

    from .live import Session, log_path_for, new_workdir, watcher

    workdir = new_workdir(options["home"])
    session = Session(log_path_for(workdir), title=title, verbose=verbose)
    with session:
        result = run_demo(DemoOptions(**options, workdir=workdir, watch=watcher(session)))
        session.summary(result.as_dict())
    print_demo_summary(result, session)
    return result, session


def _ui_server(home: Path) -> tuple[Any, str]:
    """The Prefect server to watch the demo in (None when PREFECT_API_URL names one) and its UI URL.

    Called before Prefect is imported: it reads PREFECT_API_URL once.
    """
    from cutover.flows.server import start_ui_server, use_running_server

    if os.environ.get("PREFECT_API_URL"):
        return None, use_running_server()
    server = start_ui_server(home / "prefect")
    return server, server.ui_url


def print_where_to_look(ui_url: str, plan: Path, run_key: str, *, err: bool = False) -> None:
    """Where a department lead finds their systems, the board and the notices of this run."""
    from cutover.plan import load_plan

    departments = [d.id for d in load_plan(plan).plan.departments]
    example = departments[0] if departments else "<department>"
    for line in (
        f"In the Prefect UI ({ui_url}), run {run_key}:",
        f"  one department's systems  {ui_url}/v2/runs?tags=dept:{example}",
        f"    (departments: {', '.join(departments)})",
        f"  the status board          {ui_url}/v2/artifacts/key/board-{run_key}",
        f"  one department's board    {ui_url}/v2/artifacts/key/board-{example}-{run_key}",
        f"  customer notices          {ui_url}/v2/artifacts/key/notices-{run_key}",
        "  (docs/ui-for-leads.md walks through each page)",
    ):
        typer.echo(line, err=err)


DrillPlanArgument = Annotated[
    str,
    typer.Argument(help="The plan to rehearse (or a packaged plan's name).", show_default=False),
]
DrillEnvOption = Annotated[
    str,
    typer.Option("--env", help="A simulated environment (never production).", show_default=False),
]
RollbackAtOption = Annotated[
    str | None,
    typer.Option(
        "--rollback-at", help="SYSTEM:STEP after which to roll back, or `end` (after go-live)."
    ),
]
FaultsOption = Annotated[
    Path | None,
    typer.Option("--faults", help="Faults file: error rates, latency, failing calls per system."),
]
DrillTimeScaleOption = Annotated[
    float | None,
    typer.Option("--time-scale", min=1.0, help="Plan seconds per real second (default: auto)."),
]
DrillCustomersOption = Annotated[int, typer.Option("--customers", min=10, max=1_000_000)]
DrillSeedOption = Annotated[int, typer.Option("--seed")]
DrillHomeOption = Annotated[Path, typer.Option("--home", help="Where drill runs are kept.")]
PastPointOfNoReturnOption = Annotated[
    bool,
    typer.Option(
        "--past-point-of-no-return",
        help="Rehearse a rollback even past the plan's point of no return (drills only).",
    ),
]


def drill(
    plan: DrillPlanArgument,
    env: DrillEnvOption,
    rollback_at: RollbackAtOption = None,
    faults: FaultsOption = None,
    time_scale: DrillTimeScaleOption = None,
    rate: RateOption = 300.0,
    customers: DrillCustomersOption = 2000,
    seed: DrillSeedOption = 7,
    home: DrillHomeOption = Path("var/drills"),
    json_out: JsonOption = False,
    past_point_of_no_return: PastPointOfNoReturnOption = False,
    size: SizeOption = None,
    members: MembersOption = None,
    database: DatabaseOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Rehearse the cutover on the simulated estate with traffic, faults and a rollback; then reconcile."""
    from cutover.drill.size import members_for

    sized = members_for(size, members)
    plan_file, loaded = _drill_plan(plan, env)
    _check_drill(loaded, faults, rollback_at)  # bad input: its line, before anything starts
    from cutover.flows.launch import check_configured_server

    check_configured_server()
    result, session = _rehearse(
        "cutover drill",
        verbose,
        plan=plan_file,
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
        members=sized,
        database=database,
    )
    if json_out and session.tty:
        typer.echo(json.dumps(result.as_dict()))
    legacy = loaded.plan.program.legacy
    if result.rolled_back and any(p != legacy for p in result.programs.values()):
        raise typer.Exit(1)
    if not result.ok:
        raise typer.Exit(1)


def _check_drill(loaded: LoadedPlan, faults: Path | None, rollback_at: str | None) -> None:
    """The faults file and the rollback point, checked as the rehearsal will check them."""
    if faults is not None:
        from cutover.drill.faults import load_faults

        load_faults(faults, loaded.plan)
    if rollback_at not in (None, "end"):
        from cutover.drill.rehearsal import check_rollback_point

        check_rollback_point(loaded.plan, str(rollback_at))


def _drill_plan(plan: str, env: str) -> tuple[Path, LoadedPlan]:
    """The plan file and the loaded plan to rehearse, refusing any environment but a simulated one."""
    from cutover.plan import load_plan

    if env == "production" or env.startswith("prod"):
        raise UsageError(f"--env {env!r}: drills never run against production")
    plan_file = resolve_plan(plan)
    loaded = load_plan(plan_file)
    environment = loaded.plan.environments.get(env)
    if environment is None:
        raise UsageError(f"--env {env!r} is not an environment of the plan")
    if not environment.simulated:
        raise UsageError(
            f"--env {env!r} is not simulated (`simulated: true`): drills run on the estate"
        )
    return plan_file, loaded


def _zero_or_red(count: int) -> str:
    return "[green]0[/]" if count == 0 else f"[red]{count}[/]"


def print_demo_summary(result: DemoResult, session: Session | None = None) -> None:
    """The rehearsal's figures as a table: what a release manager reads first (on stderr
    when stdout carries the run's JSON events)."""
    from rich.console import Console
    from rich.table import Table

    to_stderr = session is not None and not session.tty
    console = Console(
        width=None if Console().is_terminal and not to_stderr else 120, stderr=to_stderr
    )
    kind = "drill" if result.run_key.startswith("drill") else "demo"
    table = Table(
        title=f"cutover {kind} — {result.plan} ({result.seconds:.0f} s)",
        title_justify="left",
        show_header=False,
    )
    table.add_column("what")
    table.add_column("value")
    rolled = f"yes, in {result.rto_seconds or 0:.1f} s (RTO)" if result.rolled_back else "no"
    rows = [
        ("outcome", result.outcome),
        ("phases / systems / steps done", f"{result.phases} / {result.systems} / {result.steps}"),
        ("time scale", f"{result.time_scale:g}× (idle time skipped)"),
        (
            "transactions sent / acknowledged",
            f"{result.transactions:,} / {result.acknowledged:,} ({result.tx_per_s:,.0f} per second)",
        ),
        ("lost", _zero_or_red(result.lost)),
        ("duplicated", _zero_or_red(result.duplicated)),
        ("refused (outside an announced degradation)", _zero_or_red(result.refused)),
        ("declined inside announced degradations", f"{result.declined_degraded:,}"),
        (
            "longest write pause",
            f"{result.max_write_pause_s:.3f} s holding writes (buffer-writes), "
            f"{result.max_write_pause_any_s:.3f} s any freeze",
        ),
        ("orchestration per step", f"{result.orchestration_per_step_s:.3f} s (not plan time)"),
        ("extended notices / budget gates", f"{result.extended_notices} / {result.budget_gates}"),
        ("rolled back", rolled),
        ("programs now served", result.programs_summary),
        ("customer notices sent", f"{result.notices} ({', '.join(result.notice_kinds)})"),
        *(
            [
                (
                    "notices NOT delivered",
                    ", ".join(f"{k} {n}" for k, n in result.undelivered.items()),
                )
            ]
            if result.undelivered
            else []
        ),
        *_size_rows(result),
        ("report", result.report),
        ("notices outbox", result.outbox),
    ]
    for what, value in rows:
        table.add_row(what, str(value))
    console.print(table)


def _size_rows(result: DemoResult) -> list[tuple[str, str]]:
    """At size: the members, the seeding and reconciliation times, each process's peak memory."""
    size = result.size
    if not size:
        return []
    rss = ", ".join(f"{name} {mb:,.0f} MiB" for name, mb in size.get("peak_rss_mb", {}).items())
    return [
        (
            "size",
            f"{size['members']:,} members, {size['history_rows']:,} history rows "
            f"(PostgreSQL {size['database']}, seeded in {size['seed_s']:.0f} s)",
        ),
        ("reconciliation time", f"{size.get('reconcile_s', 0):.1f} s"),
        ("peak memory", rss),
    ]


def init(
    directory: Annotated[Path, typer.Argument(help="Folder to copy the seed plans into.")] = Path(
        "plans"
    ),
) -> None:
    """Copy the packaged seed plans (with their mappings and carry-back files) out for editing."""
    written = copy_seeds(directory)
    typer.echo(f"{len(written)} files written under {directory}/:")
    for path in written:
        typer.echo(f"  {path}")


def register(app: typer.Typer) -> None:
    app.command(name="demo")(demo)
    app.command(name="drill")(drill)
    app.command(name="init")(init)
