"""Executing one step of one system, journaled: done once, skipped on resume, undo named.

| step | what it does | its undo |
| --- | --- | --- |
| freeze | `POST /freeze`; after a migrate, the final drain runs inside the freeze | unfreeze |
| migrate | change capture, snapshot copy, delta catch-up until the lag is small | discard target, remove capture |
| verify | counts, checksums, conservation (data plane) and `GET /verify` | none needed |
| switch | `POST /switch`; after a migrate, reverse capture on the new store | switch back |
| unfreeze | `POST /unfreeze`: buffered writes replayed in order | freeze again |
| http | the plan's custom call (and its job, if `wait_job`) | the step's `undo` path |

Every mutating call carries the step's idempotency key (run key, system, step),
so a step that began but never finished is repeated safely: the system applies
it once. The flows call `execute`; tests call it without Prefect.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cutover import secrets
from cutover.clock import utcnow
from cutover.control.client import ControlClient
from cutover.engine import data
from cutover.engine.context import RunContext
from cutover.errors import CutoverError, StepError
from cutover.journal import idempotency_key
from cutover.logs import get_logger
from cutover.plan.models import (
    FreezeStep,
    HttpStep,
    MigrateStep,
    Step,
    SwitchStep,
    System,
    UnfreezeStep,
    VerifyStep,
)

log = get_logger("cutover.steps")

UNDO = {
    "freeze": "unfreeze",
    "migrate": "discard the target's partial data and remove change capture",
    "verify": "nothing to undo",
    "switch": "switch back to the legacy program",
    "unfreeze": "freeze again",
    "http": "the step's `undo` call, when the plan names one",
}


def client_for(ctx: RunContext, system_id: str) -> ControlClient:
    secret = ctx.token_secret(system_id)
    token = secrets.resolve(secret) if secret else None
    return ControlClient(ctx.base_url(system_id), system=system_id, token=token)


def find_step(system: System, step_key: str) -> Step:
    for step in system.steps:
        if step.key == step_key:
            return step
    raise StepError("no such step in the plan", system=system.id, step=step_key)


def migrate_step(system: System, before: str | None = None) -> MigrateStep | None:
    """The system's migrate step (before `before`, when given)."""
    for step in system.steps:
        if before is not None and step.key == before:
            return None
        if isinstance(step, MigrateStep):
            return step
    return None


def execute(ctx: RunContext, system_id: str, step_key: str) -> dict[str, Any]:
    """Run one step unless the journal says it is done; journal its start and outcome."""
    system = ctx.plan.system(system_id)
    step = find_step(system, step_key)
    journal = ctx.journal
    done = journal.outcome(ctx.run_key, system_id, step_key)
    if done is not None:
        return {"status": "already-done", **done.detail}
    journal.begin(ctx.run_key, system_id, step_key)
    key = idempotency_key(ctx.run_key, system_id, step_key)
    began = time.perf_counter()
    try:
        detail = HANDLERS[step.step](ctx, system, step, key)
    except CutoverError as exc:
        message = secrets.redact(str(exc))
        journal.finish(ctx.run_key, system_id, step_key, "failed", {"error": message})
        log.warning("step_failed", system=system_id, step=step_key, error=message)
        raise StepError(message, system=system_id, step=step_key) from None
    except Exception as exc:  # a bug or an unexpected library error: journaled, not swallowed
        message = secrets.redact(f"{type(exc).__name__}: {exc}")
        journal.finish(ctx.run_key, system_id, step_key, "failed", {"error": message})
        raise StepError(message, system=system_id, step=step_key) from exc
    detail["seconds"] = round(time.perf_counter() - began, 3)
    detail["undo"] = (
        f"{step.undo} (from the plan)"
        if isinstance(step, HttpStep) and step.undo
        else ("nothing named in the plan" if isinstance(step, HttpStep) else UNDO[step.step])
    )
    journal.finish(ctx.run_key, system_id, step_key, "done", detail)
    log.info("step_done", system=system_id, step=step_key, seconds=detail["seconds"])
    return detail


def _freeze(ctx: RunContext, system: System, step: Step, key: str) -> dict[str, Any]:
    assert isinstance(step, FreezeStep)
    with client_for(ctx, system.id) as client:
        migrate = migrate_step(system, before=step.key)
        if migrate is not None:
            # writes are buffered (or refused) from here: drain what capture still holds
            detail = data.final_drain(
                ctx,
                system,
                migrate,
                freeze=lambda: client.freeze(step.mode, key=key),
                unfreeze_on_failure=lambda: client.unfreeze(key=f"{key}:drain-failed"),
            )
            return {"mode": step.mode, **detail}
        state = client.freeze(step.mode, key=key)
        return {"mode": step.mode, "buffered": state.buffered, "degraded": list(state.degraded)}


def _migrate(ctx: RunContext, system: System, step: Step, key: str) -> dict[str, Any]:
    assert isinstance(step, MigrateStep)
    return data.migrate(ctx, system, step)


def _verify(ctx: RunContext, system: System, step: Step, key: str) -> dict[str, Any]:
    assert isinstance(step, VerifyStep)
    detail: dict[str, Any] = {"checks": list(step.checks)}
    migrate = migrate_step(system, before=step.key)
    data_checks = [c for c in step.checks if c != "system"]
    if migrate is not None and data_checks:
        detail.update(data.verify(ctx, system, migrate, data_checks))
    if "system" in step.checks:
        with client_for(ctx, system.id) as client:
            report = client.verify()
        if not report.ok:
            raise StepError(
                "the system's own checks failed: " + "; ".join(report.problems[:5]),
                system=system.id,
                step=step.key,
            )
        detail["system_counts"] = dict(report.counts)
    return detail


def _switch(ctx: RunContext, system: System, step: Step, key: str) -> dict[str, Any]:
    assert isinstance(step, SwitchStep)
    version = step.version or ctx.plan.program.target
    with client_for(ctx, system.id) as client:
        state = client.switch(version, key=key)
    detail: dict[str, Any] = {"program": state.program}
    migrate = migrate_step(system, before=step.key)
    if migrate is not None:
        detail.update(data.reverse_capture(ctx, system, migrate))
    return detail


def _unfreeze(ctx: RunContext, system: System, step: Step, key: str) -> dict[str, Any]:
    assert isinstance(step, UnfreezeStep)
    with client_for(ctx, system.id) as client:
        result = client.unfreeze(key=key)
    detail: dict[str, Any] = {"replayed": result.replayed, "program": result.program}
    frozen = _frozen_since(ctx, system, step.key)
    if frozen is not None:
        detail["write_pause_s"] = round((utcnow() - frozen).total_seconds(), 4)
    return detail


def _frozen_since(ctx: RunContext, system: System, unfreeze_key: str) -> datetime | None:
    """When the freeze this unfreeze ends was done (from the journal), for the write pause."""
    keys = [s.key for s in system.steps]
    freeze = None
    for s in system.steps[: keys.index(unfreeze_key)]:
        if isinstance(s, FreezeStep):
            freeze = s
    if freeze is None:
        return None
    record = ctx.journal.outcome(ctx.run_key, system.id, freeze.key)
    return record.at if record is not None else None


def _http(ctx: RunContext, system: System, step: Step, key: str) -> dict[str, Any]:
    assert isinstance(step, HttpStep)
    with client_for(ctx, system.id) as client:
        body = dict(step.json_body or {})
        if step.method == "POST" and step.path == "/jobs" and "job" in body:
            job_id = client.start_job(str(body["job"]), key=key, params=body.get("params")).id
            answer: dict[str, Any] = {"id": job_id}
        else:
            answer = client.call(
                step.method, step.path, json=step.json_body, key=key, expect=step.expect_status
            )
        detail: dict[str, Any] = {"answer": {k: answer[k] for k in list(answer)[:5]}}
        if step.wait_job:
            job_id = str(answer.get("id", ""))
            if not job_id:
                raise StepError(
                    "wait_job is set but the call answered no job id",
                    system=system.id,
                    step=step.key,
                )
            timeout = max(60.0, ctx.clock().real_seconds(step.expected) * 10)
            job = client.wait_job(job_id, timeout=timeout, poll=0.2)
            detail["job"] = {"id": job.id, "status": job.status}
    return detail


Handler = Callable[[RunContext, System, Step, str], dict[str, Any]]
HANDLERS: dict[str, Handler] = {
    "freeze": _freeze,
    "migrate": _migrate,
    "verify": _verify,
    "switch": _switch,
    "unfreeze": _unfreeze,
    "http": _http,
}
