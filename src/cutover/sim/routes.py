"""The estate's routes, registered per concern: control API, business API, simulator knobs.

They go straight onto the app (no APIRouter): an included router is matched
through one more layer on every request, and the business API is the hot path.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cutover import logs
from cutover.control.models import FreezeRequest, JobRequest, SwitchRequest, UnfreezeRequest
from cutover.plan.models import HttpStep
from cutover.sim.calls import Calls
from cutover.sim.estate import Estate
from cutover.sim.faults import Faults
from cutover.sim.kinds import TransactionRequest
from cutover.sim.records import Reply
from cutover.sim.system import EstateError, SimSystem

log = logs.get_logger("cutover.sim.routes")

CONTROL = "/systems/{system_id}/cutover/v1"
BUSINESS = "/systems/{system_id}/api/v1"


def add_control_routes(api: FastAPI, estate: Estate, calls: Calls) -> None:
    """The control API of every system; a plan's own `http` steps last, as the catch-all."""
    _add_reads(api, estate, calls)
    _add_changes(api, estate, calls)
    _add_jobs(api, estate, calls)
    _add_custom(api, estate, calls)


def _add_reads(api: FastAPI, estate: Estate, calls: Calls) -> None:
    @api.get(CONTROL + "/health")
    async def health(request: Request, system_id: str) -> JSONResponse:
        return await calls.run(
            request, system_id, "health", lambda: Reply(200, estate.health(system_id))
        )

    @api.get(CONTROL + "/state")
    async def state(request: Request, system_id: str) -> JSONResponse:
        return await calls.run(
            request, system_id, "state", lambda: Reply(200, estate.state(system_id))
        )

    @api.get(CONTROL + "/verify")
    async def verify(request: Request, system_id: str) -> JSONResponse:
        return await calls.run(
            request, system_id, "verify", lambda: Reply(200, estate.verify(system_id))
        )


def _add_changes(api: FastAPI, estate: Estate, calls: Calls) -> None:
    @api.post(CONTROL + "/freeze")
    async def freeze(request: Request, system_id: str, body: FreezeRequest) -> JSONResponse:
        return await calls.mutate(
            request,
            system_id,
            "freeze",
            body.key,
            {"mode": body.mode},
            lambda: estate.freeze(system_id, body.mode),
        )

    @api.post(CONTROL + "/unfreeze")
    async def unfreeze(
        request: Request, system_id: str, body: UnfreezeRequest | None = None
    ) -> JSONResponse:
        return await calls.mutate(
            request,
            system_id,
            "unfreeze",
            body.key if body else None,
            {},
            lambda: estate.unfreeze(system_id),
        )

    @api.post(CONTROL + "/switch")
    async def switch(
        request: Request, system_id: str, body: SwitchRequest | None = None
    ) -> JSONResponse:
        version = body.version if body else None
        return await calls.mutate(
            request,
            system_id,
            "switch",
            body.key if body else None,
            {"version": version},
            lambda: estate.switch(system_id, version),
        )


def _add_jobs(api: FastAPI, estate: Estate, calls: Calls) -> None:
    @api.post(CONTROL + "/jobs")
    async def start_job(request: Request, system_id: str, body: JobRequest) -> JSONResponse:
        params = body.all_params()
        return await calls.mutate(
            request,
            system_id,
            "jobs",
            body.key,
            {"job": body.job, "params": params},
            lambda: estate.start_job(system_id, body.job, params),
        )

    @api.get(CONTROL + "/jobs/{job_id}")
    async def get_job(request: Request, system_id: str, job_id: str) -> JSONResponse:
        return await calls.run(
            request, system_id, "jobs", lambda: Reply(200, estate.job(system_id, job_id))
        )


def _add_custom(api: FastAPI, estate: Estate, calls: Calls) -> None:
    @api.api_route(CONTROL + "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def custom(request: Request, system_id: str, rest: str) -> JSONResponse:
        s = estate.system(system_id)
        path = "/" + rest
        declared = _custom_paths(s)
        if path not in declared or request.method == "GET":
            known = ", ".join(sorted(declared)) or "none"
            raise EstateError(
                404, f"no call {request.method} {path} on {s.id} (its custom calls: {known})"
            )
        raw = await request.body()
        try:
            payload = json.loads(raw) if raw.strip() else None
        except ValueError:
            raise EstateError(400, "the body is not valid JSON") from None
        answer = {"system": s.id, "call": f"{request.method} {path}", "ok": True, "json": payload}
        return await calls.mutate(
            request,
            system_id,
            "custom",
            None,
            {"method": request.method, "path": path, "json": payload},
            lambda: _custom_done(s, answer),
        )


def _custom_paths(s: SimSystem) -> set[str]:
    paths: set[str] = set()
    for step in s.spec.steps:
        if isinstance(step, HttpStep):
            paths.add(step.path)
            if step.undo and not step.irreversible:
                paths.add(step.undo)
    return paths


def _custom_done(s: SimSystem, answer: dict[str, Any]) -> Reply:
    s.store.record("custom", call=answer["call"])
    return Reply(200, answer)


def add_business_routes(api: FastAPI, estate: Estate, calls: Calls) -> None:
    """The business API of the front systems: transactions and balances."""
    business = estate.business

    @api.post(BUSINESS + "/transactions")
    async def transactions(
        request: Request, system_id: str, body: TransactionRequest
    ) -> JSONResponse:
        business.front(system_id)
        return await calls.run(
            request,
            system_id,
            "transactions",
            lambda: business.transact(system_id, body),
            inject=False,  # the estate injects (and logs) transaction faults itself
        )

    @api.get(BUSINESS + "/members/{member_id}")
    async def member(request: Request, system_id: str, member_id: int) -> JSONResponse:
        return await calls.run(
            request,
            system_id,
            "members",
            lambda: Reply(200, business.balance(system_id, member_id)),
        )


def add_sim_routes(api: FastAPI, estate: Estate) -> None:
    """What only the simulator has: the list of systems and each system's fault knobs."""

    @api.get("/estate/v1/systems")
    async def systems() -> JSONResponse:
        return JSONResponse({"systems": estate.systems_list()})

    @api.get("/systems/{system_id}/sim/v1/faults")
    async def get_faults(system_id: str) -> JSONResponse:
        return JSONResponse(estate.system(system_id).faults.faults.model_dump())

    @api.put("/systems/{system_id}/sim/v1/faults")
    async def put_faults(system_id: str, body: Faults) -> JSONResponse:
        s = estate.system(system_id)
        s.faults.set(body)
        log.info("faults_set", system=s.id, **body.model_dump(exclude_defaults=True))
        return JSONResponse(body.model_dump())
