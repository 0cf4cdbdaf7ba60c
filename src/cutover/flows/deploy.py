"""`cutover deploy`: the work pools and deployments a plan's environment needs, idempotently.

What a plan says about placement (`environments.<env>.pools`, `control_pool`)
becomes, on the Prefect server at `PREFECT_API_URL`:

- one process work pool per pool the plan names, and its control pool;
- `cutover/<plan>-<env>` and `cutover-rollback/<plan>-<env>` on the control pool,
  whose default parameter is the whole `RunRequest` (so the UI's Run button and
  `prefect deployment run` start exactly what `cutover run --deployment` starts);
- `cutover-system/<pool>` per pool, which the cutover flow runs each placed
  system's flow through, so that pool's worker executes it.

Every deployment's entrypoint is a module path into the installed package (no
pull step, no checkout): the CLI, the deployments and every worker import the same
code. What exists and matches is left alone; what differs is updated; `--dry-run`
computes the same changes and applies none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cutover.engine.request import RunRequest
from cutover.errors import UsageError
from cutover.plan.models import Plan

from .names import (
    CUTOVER_FLOW,
    ENTRYPOINTS,
    HEARTBEAT_SECONDS,
    ROLLBACK_FLOW,
    SYSTEM_FLOW,
    deployment_name,
)

Change = Literal["create", "update", "unchanged"]


@dataclass(frozen=True)
class DeploymentSpec:
    flow: str
    name: str
    pool: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.flow}/{self.name}"


@dataclass(frozen=True)
class Action:
    change: Change
    kind: Literal["work pool", "deployment"]
    name: str
    detail: str = ""


def desired(plan: Plan, request: RunRequest, plan_stem: str) -> tuple[list[str], list[Any]]:
    """The pools and deployments this plan's environment needs."""
    env = plan.environments[request.env]
    pools = list(dict.fromkeys([env.control_pool, *env.pools]))
    name = deployment_name(plan_stem, request.env)
    params = {"request": request.model_dump(mode="json")}
    specs = [
        DeploymentSpec(
            CUTOVER_FLOW,
            name,
            env.control_pool,
            f"The {plan.name} cutover in {request.env}: phases, gates, every system.",
            params,
        ),
        DeploymentSpec(
            ROLLBACK_FLOW,
            name,
            env.control_pool,
            f"Roll back the {plan.name} cutover in {request.env}: every touched system "
            "back on the legacy program, post-switch writes carried back.",
            params,
        ),
    ]
    for pool, systems in env.pools.items():
        specs.append(
            DeploymentSpec(
                SYSTEM_FLOW,
                pool,
                pool,
                f"Per-system runs on a worker of pool {pool!r} (in {plan.name}: "
                + ", ".join(systems)
                + ").",
            )
        )
    return pools, specs


def job_variables() -> dict[str, Any]:
    return {
        "env": {
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
            "PREFECT_LOGGING_EXTRA_LOGGERS": "cutover",
            "DO_NOT_TRACK": "1",
        }
    }


def apply(pools: list[str], specs: list[DeploymentSpec], *, dry_run: bool) -> list[Action]:
    """Create or update what differs; a second call changes nothing."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        _check_reachable(client)
        actions = [_pool(client, pool, dry_run) for pool in pools]
        actions += [_deployment(client, spec, dry_run) for spec in specs]
    return actions


def _check_reachable(client: Any) -> None:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise UsageError(
            "no Prefect server: export PREFECT_API_URL=http://HOST:4200/api "
            "(and PREFECT_API_AUTH_STRING), see docs/scaling-out.md"
        )
    try:
        problem = client.api_healthcheck()  # returns the error instead of raising it
        if problem is None:
            client.read_work_pools(limit=1)  # the login too (basic auth)
    except Exception as exc:
        problem = exc
    if problem is not None:
        raise UsageError(f"the Prefect server at {url} cannot be reached: {_reason(problem)}")


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def _pool(client: Any, name: str, dry_run: bool) -> Action:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        pool = client.read_work_pool(name)
    except ObjectNotFound:
        if not dry_run:
            template = ProcessWorker.get_default_base_job_template()
            client.create_work_pool(
                WorkPoolCreate(name=name, type="process", base_job_template=template)
            )
        return Action("create", "work pool", name, "process")
    if pool.type != "process":
        raise UsageError(
            f"work pool {name!r} exists with type {pool.type!r}; cutover's systems run on "
            "process workers: rename the pool in the plan or delete that pool"
        )
    return Action("unchanged", "work pool", name, "process")


def _deployment(client: Any, spec: DeploymentSpec, dry_run: bool) -> Action:
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.exceptions import ObjectNotFound

    wanted = _fields(spec)
    try:
        found = client.read_deployment_by_name(spec.full_name)
    except ObjectNotFound:
        if not dry_run:
            flow_id = client.create_flow_from_name(spec.flow)
            client.create_deployment(
                flow_id=flow_id, name=spec.name, enforce_parameter_schema=True, **wanted
            )
        return Action("create", "deployment", spec.full_name, f"pool {spec.pool}")
    differs = [key for key, value in wanted.items() if _current(found, key) != value]
    if not differs:
        return Action("unchanged", "deployment", spec.full_name, f"pool {spec.pool}")
    if not dry_run:
        client.update_deployment(found.id, DeploymentUpdate(**wanted))
    return Action("update", "deployment", spec.full_name, "changed: " + ", ".join(differs))


def _fields(spec: DeploymentSpec) -> dict[str, Any]:
    from prefect.utilities.callables import parameter_schema

    return {
        "entrypoint": ENTRYPOINTS[spec.flow],
        "work_pool_name": spec.pool,
        "parameters": spec.parameters,
        "description": spec.description,
        "tags": ["cutover"],
        "job_variables": job_variables(),
        "pull_steps": [],
        "parameter_openapi_schema": parameter_schema(_flow(spec.flow)).model_dump_for_openapi(),
    }


def _current(found: Any, key: str) -> Any:
    value = getattr(found, key)
    if key == "parameter_openapi_schema" and value is not None and not isinstance(value, dict):
        return value.model_dump_for_openapi()
    if key == "pull_steps" and value is None:
        return []
    return value


def _flow(name: str) -> Any:
    if name == CUTOVER_FLOW:
        from .cutover_flow import cutover

        return cutover.fn
    if name == ROLLBACK_FLOW:
        from .rollback_flow import rollback

        return rollback.fn
    from .system_flow import system_cutover

    return system_cutover.fn
