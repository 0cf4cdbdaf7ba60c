"""`cutover server start`: a real Prefect server for cutovers, with basic auth and crash detection."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from .options import DEFAULT_HOME

server_app = typer.Typer(help="A real Prefect server for cutovers.", no_args_is_help=True)

PortOption = Annotated[int, typer.Option("--port", help="Port to listen on.")]
HostOption = Annotated[
    str,
    typer.Option("--host", help="Address to listen on; 0.0.0.0 lets leads on other machines in."),
]
HomeOption = Annotated[
    Path,
    typer.Option("--home", help="PREFECT_HOME for the server (its SQLite database lives here)."),
]
AuthSecretOption = Annotated[
    str,
    typer.Option(
        "--auth-secret", help="Name of the secret holding 'user:password' for basic auth."
    ),
]
NoAuthOption = Annotated[
    bool,
    typer.Option("--no-auth", help="No login at all (only for a server no one else reaches)."),
]
PagingPlanOption = Annotated[
    Path | None,
    typer.Option(
        "--plan", help="Also create a paging automation per department (off; docs/gates.md)."
    ),
]


@server_app.command("start")
def server_start(
    port: PortOption = 4200,
    host: HostOption = "127.0.0.1",
    home: HomeOption = DEFAULT_HOME / "prefect",
    auth_secret: AuthSecretOption = "CUTOVER_SERVER_AUTH",
    no_auth: NoAuthOption = False,
    plan: PagingPlanOption = None,
    crash_after: Annotated[
        int,
        typer.Option(
            "--crash-after",
            min=45,
            help="Seconds without a heartbeat (they come every 30 s) before a flow run is "
            "marked Crashed.",
        ),
    ] = 90,
) -> None:
    """Start `prefect server start` for cutovers (SQLite, or PostgreSQL via PREFECT_API_DATABASE_CONNECTION_URL), with basic auth and crash detection."""
    from cutover.flows.server import database_description, start_server
    from cutover.plan import load_plan

    loaded = load_plan(plan) if plan is not None else None  # a bad plan starts nothing
    server = start_server(
        home=home,
        port=port,
        host=host,
        auth_secret=None if no_auth else auth_secret,
        require_auth=not no_auth,
    )
    try:
        os.environ.update(server.client_env())
        from cutover.flows.automations import ensure_lead_automations, ensure_zombie_automation

        ensure_zombie_automation(timedelta(seconds=crash_after))
        if loaded is not None:
            paging = ensure_lead_automations(loaded.plan)
            typer.echo(f"  {len(paging)} paging automations (off): {', '.join(paging)}")
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


def register(app: typer.Typer) -> None:
    app.add_typer(server_app, name="server")
