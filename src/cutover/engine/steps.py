"""The step kinds: what each step does and, beside it, how it is undone.

| step | do | undo (in a rollback, walking the journal backwards) |
| --- | --- | --- |
| freeze | `POST /freeze`; after a migrate, the final drain runs inside the freeze | unfreeze, if writes are still held (and the switch's undo does not) |
| migrate | change capture, snapshot copy, delta catch-up until the lag is small | discard the target's copy and the captures |
| verify | counts, checksums, conservation (data plane), `GET /verify`, data flow traces | nothing: it changed nothing |
| switch | `POST /switch`; after a migrate, reverse capture on the new store | switch back; with data: hold writes, carry back post-switch writes, switch back, unfreeze |
| unfreeze | `POST /unfreeze`: buffered writes replayed in order | nothing of its own (the switch's undo holds writes while data goes back) |
| http | the plan's custom call (and its job, if `wait_job`) | the step's `undo` call, when the plan names one |

Every mutating call carries the step's idempotency key, so a step that began but
never finished is repeated safely: the system applies it once. `execute` runs one
step through the journal; `cutover.engine.rollback` asks each kind for its undo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from cutover import secrets
from cutover.clock import utcnow
from cutover.control.client import ControlClient
from cutover.errors import StepError
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

from . import data, dataflows
from .context import RunContext
from .cuts import drained_migrate, verified_by_drain
from .journaled import journaled
from .results import StepOutcome

Call = Callable[[str], dict[str, Any]]
"""An undo action: given its idempotency key, do it and say what was done."""


@dataclass(frozen=True)
class Touched:
    """What the journal says was done to one system: what its undo has to take back."""

    switched: bool
    frozen: bool
    migrated: bool

    @property
    def moved_data(self) -> bool:
        """Switched with data of its own: writes since the switch must be carried back."""
        return self.switched and self.migrated


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


def _unfreeze(ctx: RunContext, system: System) -> Call:
    return _call(ctx, system, lambda c, k: c.unfreeze(key=k))


def _hold(ctx: RunContext, system: System) -> Call:
    """Hold writes before data goes back: wait out a replay still running, then freeze.

    An unfreeze step that failed here (a timeout) may still be replaying its buffer
    into the new store there; a carry-back read meanwhile would miss what the replay
    writes after it. So the hold first waits until the system says it is not
    draining; a system still frozen (its unfreeze never ran, or its replay is
    blocked) holds its writes already, in the plan's mode; any other is frozen
    `buffer-writes`.
    """

    def run(key: str) -> dict[str, Any]:
        with client_for(ctx, system.id) as client:
            state = client.settle()
            if state.frozen:
                return {"program": state.program, "held": f"already frozen {state.mode}"}
            state = client.freeze("buffer-writes", key=key)
        return {"program": state.program, "held": "buffer-writes"}

    return run


def _call(ctx: RunContext, system: System, action: Callable[[ControlClient, str], Any]) -> Call:
    """An undo action that is one control call; it reports the program served after it."""

    def run(key: str) -> dict[str, Any]:
        with client_for(ctx, system.id) as client:
            result = action(client, key)
        out: dict[str, Any] = {"program": getattr(result, "program", None)}
        if getattr(result, "held_s", None) is not None:  # an unfreeze: the pause it ended
            out["write_pause_s"] = result.held_s
        return out

    return run


class StepKind:
    """One kind of step: `do` it, or list what `undo` takes to bring it back."""

    name: ClassVar[str]
    undo_text: ClassVar[str] = "nothing to undo"
    undo_after: ClassVar[str] = "done"
    """`done`: undone only if the journal has it done; `started`: as soon as it began."""

    def do(self, ctx: RunContext, system: System, step: Any, key: str) -> dict[str, Any]:
        raise NotImplementedError

    def undo(
        self, ctx: RunContext, system: System, step: Any, touched: Touched
    ) -> list[tuple[str, Call]]:
        return []

    def undo_named(self, step: Step) -> str:
        return self.undo_text


class Freeze(StepKind):
    name = "freeze"
    undo_text = "unfreeze"
    undo_after = "started"

    def do(self, ctx: RunContext, system: System, step: FreezeStep, key: str) -> dict[str, Any]:
        with client_for(ctx, system.id) as client:
            migrate = drained_migrate(ctx, system, step)
            if migrate is not None:
                # writes are buffered (or refused) from here: drain what capture still holds
                detail = data.final_drain(
                    ctx,
                    migrate,
                    freeze=lambda: client.freeze(step.mode, key=key),
                    unfreeze_on_failure=lambda: client.unfreeze(key=f"{key}:drain-failed"),
                )
                return {"mode": step.mode, **detail}
            state = client.freeze(step.mode, key=key)
            return {"mode": step.mode, "buffered": state.buffered, "degraded": list(state.degraded)}

    def undo(
        self, ctx: RunContext, system: System, step: FreezeStep, touched: Touched
    ) -> list[tuple[str, Call]]:
        if touched.moved_data or not touched.frozen:
            return []  # the switch's undo releases the writes it holds; or nothing is held
        return [("unfreeze", _unfreeze(ctx, system))]


class Migrate(StepKind):
    name = "migrate"
    undo_text = "discard the target's partial data and remove change capture"
    undo_after = "started"

    def do(self, ctx: RunContext, system: System, step: MigrateStep, key: str) -> dict[str, Any]:
        return data.migrate(ctx, system, step)

    def undo(
        self, ctx: RunContext, system: System, step: MigrateStep, touched: Touched
    ) -> list[tuple[str, Call]]:
        return [("discard", lambda k: data.discard(ctx, step))]


class Verify(StepKind):
    name = "verify"

    def do(self, ctx: RunContext, system: System, step: VerifyStep, key: str) -> dict[str, Any]:
        detail: dict[str, Any] = {"checks": step.check_labels}
        migrate = migrate_step(system, before=step.key)
        data_checks = [c for c in step.named_checks if c != "system"]
        if migrate is not None and data_checks:
            drained = verified_by_drain(ctx, system, step, migrate)
            if drained is not None:
                detail["verified"] = drained
            else:
                detail.update(data.verify(ctx, migrate, data_checks))
        if step.dataflows:  # each flow's trace must pass (pure computation, no call)
            detail["dataflows"] = dataflows.verify(ctx, system.id, step)
        if "system" in step.named_checks:
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


class Switch(StepKind):
    name = "switch"
    undo_text = "switch back to the legacy program (with data: writes held, carried back first)"
    undo_after = "started"
    """A switch that began may have reached the system: switching back is always safe."""

    def do(self, ctx: RunContext, system: System, step: SwitchStep, key: str) -> dict[str, Any]:
        version = step.version or ctx.plan.program.target
        with client_for(ctx, system.id) as client:
            state = client.switch(version, key=key)
        detail: dict[str, Any] = {"program": state.program}
        migrate = migrate_step(system, before=step.key)
        if migrate is not None:
            detail.update(data.reverse_capture(ctx, migrate))
        return detail

    def undo(
        self, ctx: RunContext, system: System, step: SwitchStep, touched: Touched
    ) -> list[tuple[str, Call]]:
        legacy = ctx.plan.program.legacy
        back = ("switch-back", _call(ctx, system, lambda c, k: c.switch(legacy, key=k)))
        migrate = migrate_step(system)
        if not touched.moved_data or migrate is None:
            return [back]
        # writes held (buffered, none refused) from before the carry-back to after the
        # switch-back, so nothing written to the new store is left behind
        carry = ("carry-back", lambda k: data.carry_back(ctx, system, migrate))
        release = ("unfreeze", _unfreeze(ctx, system))
        return [("freeze", _hold(ctx, system)), carry, back, release]


class Unfreeze(StepKind):
    name = "unfreeze"
    undo_text = "nothing of its own: the switch's undo holds writes while data goes back"

    def do(self, ctx: RunContext, system: System, step: UnfreezeStep, key: str) -> dict[str, Any]:
        with client_for(ctx, system.id) as client:
            result = client.unfreeze(key=key)
        detail: dict[str, Any] = {"replayed": result.replayed, "program": result.program}
        if result.held_s is not None:  # measured by the system: first held write to last replayed
            detail["write_pause_s"] = result.held_s
        elif (frozen := _frozen_since(ctx, system, step.key)) is not None:
            detail["write_pause_s"] = round((utcnow() - frozen).total_seconds(), 4)
        return detail


def job_params(body: dict[str, Any]) -> dict[str, Any]:
    """A plan's `json: {job: reindex, index: x}`: every key but `job` is a job parameter.

    `params: {...}` is taken too (merged over the other keys), as the control API takes it.
    """
    extra = {k: v for k, v in body.items() if k not in ("job", "params", "key")}
    nested = body.get("params")
    return {**extra, **(nested if isinstance(nested, dict) else {})}


class Http(StepKind):
    name = "http"

    def do(self, ctx: RunContext, system: System, step: HttpStep, key: str) -> dict[str, Any]:
        with client_for(ctx, system.id) as client:
            body = dict(step.json_body or {})
            if step.method == "POST" and step.path == "/jobs" and "job" in body:
                job_id = client.start_job(str(body["job"]), key=key, params=job_params(body)).id
                answer: dict[str, Any] = {"id": job_id}
            else:
                answer = client.call(
                    step.method, step.path, json=step.json_body, key=key, expect=step.expect_status
                )
            detail: dict[str, Any] = {"answer": {k: answer[k] for k in list(answer)[:5]}}
            if step.wait_job:
                detail["job"] = self._wait(ctx, client, system, step, answer)
        return detail

    @staticmethod
    def _wait(
        ctx: RunContext, client: ControlClient, system: System, step: HttpStep, answer: Any
    ) -> dict[str, Any]:
        job_id = str(answer.get("id", ""))
        if not job_id:
            raise StepError(
                "wait_job is set but the call answered no job id", system=system.id, step=step.key
            )
        timeout = max(60.0, ctx.clock().real_seconds(step.planned(ctx.request.env)) * 10)
        job = client.wait_job(job_id, timeout=timeout, poll=0.2)
        return {"id": job.id, "status": job.status}

    def undo(
        self, ctx: RunContext, system: System, step: HttpStep, touched: Touched
    ) -> list[tuple[str, Call]]:
        path = step.undo
        if not path:
            return []
        return [
            (
                f"undo-{step.key}",
                _call(ctx, system, lambda c, k: c.call("POST", path, json={}, key=k)),
            )
        ]

    def undo_named(self, step: Step) -> str:
        assert isinstance(step, HttpStep)
        return f"{step.undo} (from the plan)" if step.undo else "nothing named in the plan"


KINDS: dict[str, StepKind] = {
    kind.name: kind for kind in (Freeze(), Migrate(), Verify(), Switch(), Unfreeze(), Http())
}
"""Every step kind a plan can name, by its `step:` value."""


def _frozen_since(ctx: RunContext, system: System, unfreeze_key: str) -> datetime | None:
    """When the freeze this unfreeze ends began (the journal's start of its last attempt,
    just before its `POST /freeze`), for the write pause of a system that does not say it."""
    keys = [s.key for s in system.steps]
    freeze = None
    for s in system.steps[: keys.index(unfreeze_key)]:
        if isinstance(s, FreezeStep):
            freeze = s
    if freeze is None:
        return None
    starts = [
        r.at
        for r in ctx.journal.history(ctx.run_key)
        if (r.system, r.step, r.action, r.status) == (system.id, freeze.key, "do", "started")
    ]
    return starts[-1] if starts else None


def execute(ctx: RunContext, system_id: str, step_key: str) -> StepOutcome:
    """Run one step unless the journal says it is done; journal its start and outcome."""
    system = ctx.plan.system(system_id)
    step = find_step(system, step_key)
    kind = KINDS[step.step]

    def work(key: str) -> dict[str, Any]:
        undo = "none: it cannot be undone" if step.irreversible else kind.undo_named(step)
        return {**kind.do(ctx, system, step, key), "undo": undo}

    ran, detail = journaled(ctx, system_id, step_key, work)
    return StepOutcome(
        system=system_id, step=step_key, status="done" if ran else "already-done", detail=detail
    )


def stop_at_rollback_point(ctx: RunContext, outcome: StepOutcome) -> None:
    """Drills: StepError once the step named by `rollback_at` is done, so the phase stops there."""
    if outcome.status == "done" and ctx.request.rollback_at == f"{outcome.system}:{outcome.step}":
        raise StepError(
            "drill: the rollback point is reached", system=outcome.system, step=outcome.step
        )
