"""`cutover estate serve`, `cutover simulate` and `cutover reconcile`.

Heavy imports (FastAPI, uvicorn) happen inside the commands; Prefect never.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from cutover.errors import UsageError

from .options import PlanArgument

if TYPE_CHECKING:
    from cutover.sim.generator import Settings

TOKEN_ENV = "CUTOVER_ESTATE_TOKEN"
MIN_TOKEN_CHARS = 16
"""A shorter bearer token can be guessed; `estate serve` refuses it."""
DEFAULT_PORT = 8700
LOOPBACK = ("127.0.0.1", "localhost", "::1")

estate_app = typer.Typer(
    name="estate",
    help="The simulated estate: every system of a plan behind the control API.",
    no_args_is_help=True,
)


def _environment(plan: Any, env: str | None) -> str:
    if env is None:
        simulated = [name for name, e in plan.environments.items() if e.simulated]
        if not simulated:
            raise UsageError(
                "the plan has no simulated environment (`simulated: true`); name one with --env"
            )
        return str(simulated[0])
    if env not in plan.environments:
        raise UsageError(
            f"--env {env!r} is not in the plan (it has: {', '.join(plan.environments)})"
        )
    if not plan.environments[env].simulated:
        raise UsageError(
            f"--env {env!r} is not simulated (`simulated: true`): the estate stands in only for staging and drills"
        )
    return env


def _faults(specs: list[str], plan: Any) -> dict[str, Any]:
    """`SYSTEM:knob=value` options, as Faults per system."""
    from pydantic import ValidationError

    from cutover.sim.faults import Faults

    knobs: dict[str, dict[str, Any]] = {}
    for spec in specs:
        system, _, setting = spec.partition(":")
        name, _, value = setting.partition("=")
        if not system or not name or not value:
            raise UsageError(
                f"--fault {spec!r}: write SYSTEM:KNOB=VALUE, e.g. pos-stores:error_rate=0.1"
            )
        if system not in {s.id for s in plan.systems}:
            raise UsageError(f"--fault {spec!r}: no system {system!r} in the plan")
        # a value reads as it would in a faults file (YAML): 503 is a number, true a bool
        parsed: Any = value.split(",") if name == "calls" else _scalar(value)
        knobs.setdefault(system, {})[name] = parsed
    result = {}
    for system, values in knobs.items():
        try:
            result[system] = Faults.model_validate(values)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            raise UsageError(f"--fault {system}:{where}: {error['msg']}") from None
    return result


def _scalar(text: str) -> Any:
    import yaml

    try:
        value = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):  # ValueError: an int over Python's digit limit
        return text
    return value if isinstance(value, str | int | float | bool) else text


SimulatedEnvOption = Annotated[
    str | None,
    typer.Option("--env", "-e", help="Simulated environment (default: the plan's first)."),
]
PortOption = Annotated[
    int | None,
    typer.Option(
        "--port",
        "-p",
        help="Port (default: the environment's base_url port, else 8700; 0: any free port).",
    ),
]
HostOption = Annotated[str, typer.Option("--host", help="Interface to listen on.")]
WorkdirOption = Annotated[
    Path, typer.Option("--workdir", help="Relative store paths resolve here.")
]
ServeStateDirOption = Annotated[
    Path | None,
    typer.Option("--state-dir", help="The systems' own stores (default WORKDIR/var/ENV/estate)."),
]
InsecureNoAuthOption = Annotated[
    bool,
    typer.Option("--insecure-no-auth", help="Serve without a bearer token (loopback only)."),
]
FaultOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fault",
        help="SYSTEM:KNOB=VALUE fault knob (repeatable), e.g. pos-stores:error_rate=0.05.",
    ),
]


@estate_app.command("serve")
def serve(
    plan: PlanArgument,
    env: SimulatedEnvOption = None,
    port: PortOption = None,
    host: HostOption = "127.0.0.1",
    workdir: WorkdirOption = Path(),
    state_dir: ServeStateDirOption = None,
    insecure_no_auth: InsecureNoAuthOption = False,
    fault: FaultOption = None,
) -> None:
    """Serve every system of PLAN: control API at /systems/<id>/cutover/v1, business API at /systems/<id>/api/v1."""
    from cutover.drill.seed import seed_stores
    from cutover.plan import load_plan
    from cutover.sim.server import serve as run_server

    loaded_plan = load_plan(plan)
    loaded = loaded_plan.plan
    env = _environment(loaded, env)
    token = _serve_token(insecure_no_auth, host)
    port = _serve_port(port, loaded, env)
    faults = _faults(fault or [], loaded)
    root = workdir.resolve()

    def ready(actual: int) -> None:
        # the estate has opened its system of record: seed every other store a migrate step
        # reads, as drills do, so `cutover run --data-root WORKDIR` finds them (tables that
        # exist are left alone)
        seeded = seed_stores(loaded_plan, env, root=root)
        if seeded:
            names = ", ".join(f"{s.store} ({s.rows} rows)" for s in seeded)
            typer.echo(f"seeded under {root}: {names}", err=True)
        typer.echo(
            f"estate for {plan} ({env}) at http://{host}:{actual}/systems/<system>/cutover/v1 — Ctrl-C stops it",
            err=True,
        )

    run_server(
        plan,
        env,
        host=host,
        port=port,
        token=token,
        workdir=root,
        state_dir=state_dir.resolve() if state_dir else None,
        on_ready=ready,
        faults=faults,
    )


def _serve_token(insecure_no_auth: bool, host: str) -> str | None:
    """The bearer token from the environment; None only for a loopback estate without auth."""
    token = os.environ.get(TOKEN_ENV) or None
    if not token and not insecure_no_auth:
        raise UsageError(
            f"{TOKEN_ENV} is not set: export a bearer token, or pass --insecure-no-auth for a loopback-only estate"
        )
    if token and not insecure_no_auth and len(token) < MIN_TOKEN_CHARS:
        raise UsageError(
            f"{TOKEN_ENV} is {len(token)} characters: a bearer token needs at least"
            f" {MIN_TOKEN_CHARS} (try: export {TOKEN_ENV}=$(openssl rand -hex 16))"
        )
    if insecure_no_auth:
        token = None
        if host not in LOOPBACK:
            raise UsageError(
                f"--insecure-no-auth serves loopback only; --host {host} needs a token"
            )
    return token


def _serve_port(port: int | None, plan: Any, env: str) -> int:
    """--port, else the environment's base_url port on loopback, else 8700."""
    if port is None:
        parts = urlsplit(plan.environments[env].base_url.replace("{system}", "x"))
        port = parts.port if parts.hostname in LOOPBACK and parts.port else DEFAULT_PORT
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535 (got {port})")
    return port


CustomersOption = Annotated[int, typer.Option("--customers", "-n", help="Simulated members.")]
MonthsOption = Annotated[float, typer.Option("--months", "-m", help="Simulated months.")]
SeedOption = Annotated[int, typer.Option("--seed", "-s", help="Same seed, same stream.")]
RateOption = Annotated[
    float, typer.Option("--rate", "-r", help="Transactions per second sent to the estate.")
]
TargetOption = Annotated[
    str | None,
    typer.Option("--target", "-t", help="Estate URL to drive, e.g. http://127.0.0.1:8700."),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Write the event stream here (JSON lines; - for stdout) instead of driving an estate.",
    ),
]
DurationOption = Annotated[
    float | None, typer.Option("--duration", help="Stop after this many seconds.")
]
CountOption = Annotated[
    int | None, typer.Option("--count", help="Stop after this many transactions.")
]
LedgerOption = Annotated[
    Path, typer.Option("--ledger", help="Ledger of every request and answer (with --target).")
]
PublishOption = Annotated[
    str | None,
    typer.Option(
        "--publish",
        help="Event stream: a JSON-lines file (default var/traffic/events.jsonl with --target), -, redis://127.0.0.1:6379/0?stream=NAME or nats://127.0.0.1:4222?subject=NAME.",
    ),
]
ConcurrencyOption = Annotated[int, typer.Option("--concurrency", help="Connections to the estate.")]
RunIdOption = Annotated[
    str | None, typer.Option("--run-id", help="Prefix of every txn_id (default s<seed>).")
]
FirstMemberOption = Annotated[
    int, typer.Option("--first-member", help="First member id (keep runs apart).")
]
SummaryJsonOption = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]


def simulate(
    customers: CustomersOption = 5000,
    months: MonthsOption = 3.0,
    seed: SeedOption = 1,
    rate: RateOption = 100.0,
    target: TargetOption = None,
    out: OutOption = None,
    duration: DurationOption = None,
    count: CountOption = None,
    ledger: LedgerOption = Path("var/traffic/ledger.jsonl"),
    publish: PublishOption = None,
    concurrency: ConcurrencyOption = 32,
    run_id: RunIdOption = None,
    first_member: FirstMemberOption = 1,
    as_json: SummaryJsonOption = False,
) -> None:
    """Simulated customers: the 15 transaction types, driving an estate (--target) or written out (--out)."""
    from cutover.sim.generator import Settings

    _check_simulate(target, out, duration, count, concurrency)
    settings = Settings(
        customers=customers, months=months, seed=seed, run=run_id, first_member=first_member
    ).check()
    if out is not None:
        _write_stream(settings, out, publish, count, as_json)
        return
    from cutover.sim.events import open_publisher
    from cutover.sim.traffic import check_rate, run_traffic

    check_rate(rate)
    assert target is not None
    publisher = open_publisher(publish or str(ledger.parent / "events.jsonl"))
    token = os.environ.get(TOKEN_ENV) or None
    result = run_traffic(
        settings,
        url=target,
        token=token,
        rate=rate,
        duration=duration,
        count=count,
        ledger=ledger,
        publisher=publisher,
        concurrency=concurrency,
    )
    _summary({**result.as_dict(), "ledger": str(ledger)}, as_json)


def _check_simulate(
    target: str | None,
    out: Path | None,
    duration: float | None,
    count: int | None,
    concurrency: int,
) -> None:
    """Refuse a contradictory or out-of-range `simulate`, one line per problem found first."""
    if (target is None) == (out is None):
        raise UsageError(
            "give exactly one of --target URL (drive an estate) or --out FILE (write the stream)"
        )
    if duration is not None and (not duration > 0 or math.isinf(duration)):
        raise UsageError(f"--duration must be a positive number of seconds (got {duration:g})")
    if count is not None and count < 1:
        raise UsageError(f"--count must be at least 1 (got {count})")
    if not 1 <= concurrency <= 1024:
        raise UsageError(f"--concurrency must be between 1 and 1024 (got {concurrency})")


def _write_stream(
    settings: Settings, out: Path, publish: str | None, count: int | None, as_json: bool
) -> None:
    """`simulate --out`: the event stream written to a file (and to --publish), not sent."""
    from cutover.sim.events import JsonLines, open_publisher
    from cutover.sim.traffic import write_stream

    extra = open_publisher(publish)
    written = write_stream(settings, _Tee(JsonLines(out), extra), count=count)
    summary: dict[str, Any] = {"generated": written, "out": str(out)}
    if publish:
        summary["published"] = publish
    _summary(summary, as_json, err=str(out) == "-")


class _Tee:
    """Publish to two publishers."""

    def __init__(self, first: Any, second: Any) -> None:
        self.first, self.second = first, second

    def publish(self, event: dict[str, Any]) -> None:
        self.first.publish(event)
        if self.second is not None:
            self.second.publish(event)

    def close(self) -> None:
        self.first.close()
        if self.second is not None:
            self.second.close()


def _summary(data: dict[str, Any], as_json: bool, *, err: bool = False) -> None:
    if as_json:
        typer.echo(json.dumps(data), err=err)
    else:
        typer.echo(" ".join(f"{k}={v}" for k, v in data.items()), err=err)


def reconcile(
    plan: PlanArgument,
    ledger: Annotated[Path, typer.Option("--ledger", help="The simulator's ledger.")] = Path(
        "var/traffic/ledger.jsonl"
    ),
    env: SimulatedEnvOption = None,
    workdir: WorkdirOption = Path(),
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir", help="The estate's state directory (default WORKDIR/var/ENV/estate)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the ledger against the stores: nothing lost, doubled, refused while buffering, or mispriced. Exit 1 on any discrepancy."""
    from cutover.plan import load_plan
    from cutover.sim.reconcile import reconcile as run
    from cutover.sim.server import default_state_dir

    loaded = load_plan(plan).plan
    env = _environment(loaded, env)
    work = workdir.resolve()
    report = run(
        loaded,
        env,
        ledger=ledger,
        workdir=work,
        state_dir=(state_dir or default_state_dir(work, env)).resolve(),
    )
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.render())
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(estate_app, name="estate")
    app.command(name="simulate")(simulate)
    app.command(name="reconcile")(reconcile)
