"""`cutover deploy`: a plan's work pools and deployments on the Prefect server, idempotently.

The CLI checks what it can without a server (the plan, the environment, the
journal being a server every worker reaches, no password in it); the rest, and
the creating, is `cutover.flows.deploy`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cutover.errors import UsageError
from cutover.secrets import hide_password

from .options import (
    DataRootOption,
    JournalOption,
    JsonOption,
    PlanArgument,
    check_environment,
    default_journal,
    make_request,
)

DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print what would be created or updated; change nothing.")
]


def check_server_journal(journal: str) -> None:
    """Workers in other networks share the journal: a PostgreSQL URL (its password is refused
    by the request itself, as for every run)."""
    if not journal.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        raise UsageError(
            f"--journal {hide_password(journal)!r}: deployments run on workers in other "
            "networks; give a postgresql:// URL every worker reaches (or export CUTOVER_JOURNAL)"
        )


def deploy(
    plan: PlanArgument,
    env: Annotated[
        str,
        typer.Option("--env", help="Environment of the plan (spelled out).", show_default=False),
    ],
    journal: JournalOption = None,
    run_key: Annotated[
        str | None,
        typer.Option(
            "--run-key", help="The run the deployment starts (default: PLAN-ENV; same key resumes)."
        ),
    ] = None,
    workdir: Annotated[
        str | None,
        typer.Option(
            "--workdir", help="Where runs keep notices and rejects (default: var/cutover)."
        ),
    ] = None,
    data_root: DataRootOption = None,
    dry_run: DryRunOption = False,
    json_out: JsonOption = False,
) -> None:
    """Create the plan's work pools and its cutover, rollback and per-pool deployments."""
    from cutover.flows.launch import default_workdir
    from cutover.plan import load_plan

    loaded = load_plan(plan)
    check_environment(list(loaded.plan.environments), env)
    journal = journal or default_journal()
    check_server_journal(journal)
    from cutover.flows.deploy import apply, desired
    from cutover.flows.names import deployment_name

    key = run_key or deployment_name(plan.stem, env)
    request = make_request(
        plan_path=str(plan.resolve()),
        env=env,
        run_key=key,
        journal=journal,
        workdir=workdir or str(default_workdir(journal, key)),
        # relative store paths resolve here, not in each worker's own folder
        data_root=str((data_root or Path.cwd()).resolve()),
    )
    pools, specs = desired(loaded.plan, request, plan.stem)
    actions = apply(pools, specs, dry_run=dry_run)
    verb = {"create": "would create", "update": "would update"} if dry_run else {}
    for action in actions:
        change = verb.get(action.change, action.change)
        typer.echo(f"{change:<13} {action.kind:<11} {action.name:<40} {action.detail}")
    counts = {c: sum(a.change == c for a in actions) for c in ("create", "update", "unchanged")}
    name = deployment_name(plan.stem, env)
    made = f"{counts['create']} %s, {counts['update']} %s, {counts['unchanged']} unchanged"
    if dry_run:
        typer.echo(f"dry run, nothing changed: {made % ('to create', 'to update')}")
    else:
        typer.echo(f"deployed {plan.name} for {env}: {made % ('created', 'updated')}")
    if not dry_run:
        for pool in pools:
            typer.echo(f"worker:  prefect worker start --pool {pool} --type process")
        typer.echo(
            f"start:   cutover run {plan} --env {env} --deployment  (or Run on cutover/{name})"
        )
    if json_out:
        typer.echo(json.dumps([a.__dict__ for a in actions]))


def register(app: typer.Typer) -> None:
    app.command(name="deploy")(deploy)
