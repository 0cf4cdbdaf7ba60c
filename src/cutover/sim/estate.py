"""The simulated estate: every system of a plan with its freeze modes, program, jobs and faults.

All of it runs on one asyncio event loop (the ASGI server's): each operation is
a short run of synchronous SQLite work with no await inside, so operations never
interleave and need no locks; only the unfreeze drain yields between writes, so
traffic keeps flowing (into the buffer, behind the writes being replayed) while
it runs. The last check for an empty buffer and the switch to "unfrozen" happen
with no await between them, so no write can slip past the buffer out of order.

Freeze modes (DESIGN.md): `buffer-writes` accepts business writes and holds
them durably in the system's own store, replaying them in order on unfreeze;
`read-only` refuses writes with 503 naming the system's `degrades` features;
`offline` refuses every business call. A front system forwards what it accepts
to the system of record (`cutover.sim.business`, `cutover.sim.records`); if
that system is frozen the write is held there, or refused naming *its*
degraded features.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

from cutover import __version__, logs
from cutover.plan.models import MigrateStep, Plan
from cutover.sim.business import Business
from cutover.sim.checkpoints import Checkpointer
from cutover.sim.kinds import TransactionRequest
from cutover.sim.records import CannotReplay, Records, Reply, find_core
from cutover.sim.state import Held, SystemStore
from cutover.sim.system import EstateError, SimSystem, fingerprint

__all__ = ["Estate", "EstateError", "SimSystem"]

log = logs.get_logger("cutover.sim.estate")

DEFAULT_JOB_SECONDS = 1.0
DRAIN_BATCH = 200


class Estate:
    """Every system of `plan` in environment `env`; state under `state_dir`."""

    def __init__(self, plan: Plan, env: str, *, workdir: Path, state_dir: Path) -> None:
        if env not in plan.environments:
            from cutover.errors import UsageError

            known = ", ".join(plan.environments)
            raise UsageError(f"environment {env!r} is not in the plan (it has: {known})")
        self.plan = plan
        self.env = env
        self.environment = plan.environments[env]
        self.workdir = workdir
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        self.systems: dict[str, SimSystem] = {}
        for spec in plan.systems:
            store = SystemStore(state_dir / f"{spec.id}.db")
            saved = store.control()
            self.systems[spec.id] = SimSystem(
                spec,
                store,
                program=saved.get("program", plan.program.legacy),
                frozen=bool(saved.get("frozen", False)),
                mode=saved.get("mode"),
            )
        core = find_core(plan, self.environment)
        self.core = self.systems[core[0].id] if core else None
        self.records = Records.open(
            plan,
            self.environment,
            workdir=workdir,
            state_dir=state_dir,
            core_store=self.core.store if self.core else None,
            program_of=self._core_program,
            creation_held=self._creation_held,
        )
        self.fronts = [s for s in self.systems.values() if s.spec.front]
        files = [s.store.path for s in self.systems.values()] + [self.records.pending.path]
        files += [r.db.path for r in self.records.stores() if r.db.path is not None]
        self.checkpoints = Checkpointer([*dict.fromkeys(files)])
        self.business = Business(self.system, self.core, self.records)
        log.info(
            "estate_opened",
            plan=plan.name,
            env=env,
            systems=len(self.systems),
            core=self.core.id if self.core else None,
            store=self.records.current_id,
        )

    def _core_program(self) -> str:
        return self.core.program if self.core else self.plan.program.legacy

    def _creation_held(self, member_id: int) -> bool:
        return any(s.store.holds_creation(member_id) for s in self.systems.values())

    def system(self, system_id: str) -> SimSystem:
        try:
            return self.systems[system_id]
        except KeyError:
            raise EstateError(404, f"no system {system_id!r} in this estate") from None

    def close(self) -> None:
        self.checkpoints.close()
        self.records.close()
        for system in self.systems.values():
            system.store.close()

    # -------------------------------------------------------------- reads

    def health(self, system_id: str) -> dict[str, Any]:
        s = self.system(system_id)
        return {"status": "ok", "system": s.id, "program": s.program, "version": __version__}

    def state(self, system_id: str) -> dict[str, Any]:
        s = self.system(system_id)
        if s is self.core:
            watermark, watermark_at = self.records.applied, self.records.applied_at
        else:
            watermark, watermark_at = s.store.accepted(), None
        return {
            "system": s.id,
            "program": s.program,
            "frozen": s.frozen,
            "mode": s.mode if s.frozen else None,
            "buffered": s.store.count("buffer"),
            "watermark": watermark,
            "watermark_at": watermark_at,
            "draining": s.draining,
            "degraded": s.degraded(),
            "store": self._store_of(s),
        }

    def _store_of(self, s: SimSystem) -> str | None:
        if s is self.core:
            return self.records.current_id
        steps = [step for step in s.spec.steps if isinstance(step, MigrateStep)]
        if not steps:
            return None
        return steps[0].source if s.program == self.plan.program.legacy else steps[-1].target

    def verify(self, system_id: str) -> dict[str, Any]:
        s = self.system(system_id)
        report: dict[str, Any] = {
            "system": s.id,
            "program": s.program,
            "store": self._store_of(s),
            "counts": {"buffered": s.store.count("buffer"), "accepted": s.store.accepted()},
            "sums": {},
            "checksums": {},
            "problems": [],
        }
        if s is self.core or (self.core is None and s.spec.front):
            counts, sums, checksums, problems = self.records.current.verify()
            report["store"] = self.records.current_id
            report["counts"].update(counts)
            report["counts"]["pending"] = self.records.pending.count("pending")
            report["sums"], report["checksums"], report["problems"] = sums, checksums, problems
        elif report["store"] is not None:
            rows = self._table_rows(report["store"])
            if rows is not None:
                report["counts"]["rows"] = rows
        report["ok"] = not report["problems"]
        return report

    def _table_rows(self, store_id: str) -> int | None:
        store = self.environment.stores.get(store_id)
        if store is None or not store.table or store.engine == "postgresql":
            return None
        if store.engine == "csv":
            path = self.workdir / (store.path or "")
            if not path.is_file():
                return None
            with path.open(encoding="utf-8") as handle:
                return max(0, sum(1 for _ in handle) - 1)
        import sqlite3

        path = self.workdir / (store.path or "")
        if not path.is_file():
            return None
        with sqlite3.connect(path) as conn:
            try:
                row = conn.execute(f'select count(*) from "{store.table}"').fetchone()
            except sqlite3.Error:
                return None
        return int(row[0])

    # ---------------------------------------------------- control: mutating

    def idempotent(
        self, system_id: str, call: str, key: str | None, request: dict[str, Any]
    ) -> Reply | None:
        """The first answer to `key`, if it was used; EstateError if used for something else."""
        if not key:
            raise EstateError(
                400, "an idempotency key is required: body `key` or header Idempotency-Key"
            )
        s = self.system(system_id)
        prior = s.store.answer(key)
        if prior is None:
            return None
        prior_call, prior_fingerprint, status, body = prior
        if prior_call != call or prior_fingerprint != fingerprint(request):
            raise EstateError(
                422, f"idempotency key {key!r} was used for a different request ({prior_call})"
            )
        return Reply(status, body)

    def remember(
        self, system_id: str, call: str, key: str, request: dict[str, Any], reply: Reply
    ) -> None:
        self.system(system_id).store.remember(
            key, call, fingerprint(request), reply.status, reply.body
        )

    def freeze(self, system_id: str, mode: str) -> Reply:
        s = self.system(system_id)
        if s.draining:
            raise EstateError(409, f"{s.id} is replaying its buffer (unfreeze in progress)")
        if s.frozen and s.mode != mode:
            raise EstateError(
                409, f"{s.id} is already frozen in {s.mode}; unfreeze it before freezing in {mode}"
            )
        if not s.frozen:
            with s.store.transaction():
                s.frozen, s.mode = True, mode
                s.frozen_at = time.monotonic()
                s.persist()
                s.store.record("freeze", mode=mode)
            log.info("system_frozen", system=s.id, mode=mode, degraded=s.degraded())
        return Reply(200, self.state(system_id))

    def switch(self, system_id: str, version: str | None) -> Reply:
        s = self.system(system_id)
        version = version or self.plan.program.target
        known = (self.plan.program.legacy, self.plan.program.target)
        if version not in known:
            raise EstateError(
                422, f"unknown program version {version!r}; this estate serves {' or '.join(known)}"
            )
        if s.program != version:
            with s.store.transaction():
                before, s.program = s.program, version
                s.persist()
                s.store.record("switch", program=version, before=before)
            log.info("system_switched", system=s.id, program=version, store=self._store_of(s))
        return Reply(200, self.state(system_id))

    async def unfreeze(self, system_id: str) -> Reply:
        """Replay the buffer in order, then resume writes; joins a drain already running."""
        s = self.system(system_id)
        if s.drain is None:
            s.drain = asyncio.ensure_future(self._drain(s))

            def _done(_: asyncio.Future[Reply]) -> None:
                s.drain = None

            s.drain.add_done_callback(_done)
        return await asyncio.shield(s.drain)

    async def _drain(self, s: SimSystem) -> Reply:
        if not s.frozen:
            return Reply(200, {**self.state(s.id), "replayed": 0})
        s.draining = True
        replayed = 0
        started = time.monotonic()
        try:
            while True:
                batch = s.store.held("buffer", limit=DRAIN_BATCH)
                if not batch:
                    break  # no await from here to the flip below: nothing can slip past
                delay = s.faults.faults.drain_delay_ms / 1000
                if delay:
                    done, blocked = await self._replay_slowly(s, batch, delay)
                else:
                    done, blocked = self._replay(s, batch)
                replayed += done
                if blocked is not None:
                    raise blocked
                await asyncio.sleep(0)
        except CannotReplay as exc:
            s.draining = False
            log.warning("unfreeze_blocked", system=s.id, replayed=replayed, reason=str(exc))
            raise EstateError(409, f"{s.id}: {exc}; {replayed} writes replayed so far") from None
        except BaseException:
            s.draining = False
            raise
        held_s = round(time.monotonic() - s.frozen_at, 4) if s.frozen_at is not None else None
        with s.store.transaction():
            s.frozen, s.mode, s.draining, s.frozen_at = False, None, False, None
            s.persist()
            s.store.record("unfreeze", replayed=replayed, held_s=held_s)
        log.info(
            "system_unfrozen",
            system=s.id,
            replayed=replayed,
            seconds=round(time.monotonic() - started, 3),
            held_s=held_s,
        )
        return Reply(200, {**self.state(s.id), "replayed": replayed, "held_s": held_s})

    def _replay(self, s: SimSystem, batch: list[Held]) -> tuple[int, CannotReplay | None]:
        """Deliver held writes in order, one commit per store for the batch (no await inside);
        how many were delivered, and why the rest could not be."""
        done: list[int] = []
        blocked = None
        with s.store.transaction(), self.records.batch():
            for held in batch:
                try:
                    self._deliver_held(s, held)
                except CannotReplay as exc:
                    blocked = exc
                    break
                done.append(held.seq)
            s.store.release("buffer", done)
        return len(done), blocked

    async def _replay_slowly(
        self, s: SimSystem, batch: list[Held], delay: float
    ) -> tuple[int, CannotReplay | None]:
        """`_replay` one write at a time, `delay` seconds apart (the `drain_delay_ms` knob)."""
        for count, held in enumerate(batch):
            try:
                self._deliver_held(s, held)
            except CannotReplay as exc:
                return count, exc
            s.store.release("buffer", [held.seq])
            await asyncio.sleep(delay)
        return len(batch), None

    def _deliver_held(self, s: SimSystem, held: Held) -> None:
        req = TransactionRequest.model_validate(held.payload)
        if s is self.core:
            self.records.apply(req, held.program, forced=True, origin=held.origin)
        else:
            self.business.deliver(req, held.program, forced=True, origin=held.origin)

    # ------------------------------------------------------------------ jobs

    def start_job(self, system_id: str, job: str, params: dict[str, Any]) -> Reply:
        s = self.system(system_id)
        seconds = params.get("seconds", DEFAULT_JOB_SECONDS)
        if not isinstance(seconds, int | float) or not 0 <= seconds <= 86_400:
            raise EstateError(422, "params.seconds must be a number of seconds from 0 to 86400")
        job_id = uuid.uuid4().hex[:16]
        s.store.put_job(job_id, job, params, float(seconds))
        if job == "copy-members":
            if s is not self.core or self.records.target is None:
                s.store.end_job(
                    job_id, "failed", {"reason": "copy-members runs on the loyalty core"}
                )
            else:
                copied = self.records.target.copy_members_from(self.records.source)
                s.store.end_job(job_id, "succeeded", {"copied": copied})
        log.info("job_started", system=s.id, job=job, id=job_id)
        return Reply(202, self.job(system_id, job_id))

    def job(self, system_id: str, job_id: str) -> dict[str, Any]:
        s = self.system(system_id)
        found = s.store.job(job_id)
        if found is None:
            raise EstateError(404, f"no job {job_id!r} on {s.id}")
        job, params, started, seconds, status, detail = found
        progress = 1.0 if seconds <= 0 else min(1.0, (time.time() - started) / seconds)
        if status == "running" and progress >= 1.0:
            if params.get("fail"):
                status, detail = "failed", {"reason": str(params.get("reason", "the job failed"))}
            else:
                status = "succeeded"
            s.store.end_job(job_id, status, detail)
        if status != "running":
            progress = 1.0
        return {
            "id": job_id,
            "job": job,
            "status": status,
            "progress": round(progress, 4),
            "detail": detail,
        }

    def systems_list(self) -> list[dict[str, Any]]:
        return [
            {
                "id": s.id,
                "front": s.spec.front,
                "core": s is self.core,
                "program": s.program,
                "frozen": s.frozen,
                "mode": s.mode if s.frozen else None,
            }
            for s in self.systems.values()
        ]
