"""The journal: a durable, append-only record of every step, gate decision and run.

It is what makes a cutover resumable and auditable:

- before a step acts, `begin` records it with its idempotency key; after, `finish`
  records the outcome. A re-run with the same run key asks `is_done` and skips
  what is done; a step that began but never finished (the process was killed)
  runs again with the *same* idempotency key, so the system applies it once.
- rollback walks `history` backwards (action `undo`), journaled the same way.
- gate decisions (who, when, what, comment) are rows too: the audit log.

SQLite by default (WAL, a 30 s busy timeout set before anything else, and every
call retried when SQLite still answers "database is locked" — it may, without
waiting, when writers collide on a loaded machine — so several processes can share
it); PostgreSQL when given a `postgresql://` URL. SQLAlchemy Core does the dialects.
Step and decision rows are only ever inserted, never updated: the history is the
truth; so are the clock skips of a drill that jumps over idle time.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event

from cutover.clock import RunClock, utcnow
from cutover.errors import UsageError
from cutover.journal.tables import decisions, metadata, runs, skips, steps
from cutover.secrets import hide_password

Action = Literal["do", "undo"]
Status = Literal["started", "done", "failed", "skipped"]
FINAL: tuple[str, ...] = ("done", "skipped")

BUSY_TIMEOUT_S = 30
LOCKED_ATTEMPTS = 8
"""Calls retried (with jittered backoff, about 13 s in all) while SQLite says it is locked."""


@dataclass(frozen=True)
class StepRecord:
    run_key: str
    system: str
    step: str
    action: str
    status: str
    idempotency_key: str
    at: datetime
    detail: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    run_key: str
    gate: str
    department: str
    decision: str
    who: str
    comment: str
    at: datetime


def idempotency_key(run_key: str, system: str, step: str, action: Action = "do") -> str:
    """The key a step sends with every mutating call: the same on every retry and resume."""
    return f"{run_key}:{system}:{step}:{action}"


P = ParamSpec("P")
R = TypeVar("R")


def _locked(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, sa.exc.OperationalError) and ("locked" in text or "busy" in text)


def _patient(call: Callable[P, R]) -> Callable[P, R]:
    """Retry a journal call that SQLite refused as locked (its transaction rolled back)."""

    @functools.wraps(call)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(LOCKED_ATTEMPTS - 1):
            try:
                return call(*args, **kwargs)
            except sa.exc.OperationalError as exc:
                if not _locked(exc):
                    raise
                time.sleep(min(0.05 * 2**attempt, 5.0) * random.uniform(0.5, 1.0))
        return call(*args, **kwargs)

    return wrapper


_WRITERS: dict[str, threading.RLock] = {}
_WRITERS_LOCK = threading.Lock()


def _writer_lock(url: str) -> threading.RLock:
    """One lock per SQLite file in this process, shared by every Journal opened on it."""
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(url, threading.RLock())


def _url(location: str | Path, existing: bool) -> str:
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if text.startswith(("postgresql+psycopg://", "sqlite://")):
        return text
    path = Path(text)
    if existing:
        if not path.exists():
            raise UsageError(f"no journal at {path} (give the one the run wrote: --journal PATH)")
        if not path.is_file():
            raise UsageError(f"{path} is not a regular file; a journal is a SQLite file")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class Journal:
    """The durable record of one or more cutover runs."""

    def __init__(self, location: str | Path, *, existing: bool = False) -> None:
        """Open (creating if need be) the journal; `existing=True` for readers: a SQLite
        journal that is not there is an error, never a new empty one."""
        url = _url(location, existing)
        sqlite = url.startswith("sqlite")
        options = {"connect_args": {"timeout": BUSY_TIMEOUT_S}} if sqlite else {}
        self.engine = sa.create_engine(url, future=True, pool_pre_ping=True, **options)
        self._one_at_a_time: AbstractContextManager[Any] = (
            _writer_lock(url) if sqlite else contextlib.nullcontext()
        )
        if sqlite:

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")  # first: WAL waits
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=FULL")
                cursor.close()

        # Another process may create a table between our check and our CREATE (the runner
        # and a reader opening a new journal at once): check again. Each lost race means
        # one more table exists, so one attempt per table and one more always suffice.
        attempts = len(metadata.tables) + LOCKED_ATTEMPTS
        for attempt in range(attempts):
            try:
                metadata.create_all(self.engine)
                break
            except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as exc:
                raced = any(t in str(exc.orig) for t in ("already exists", "duplicate key"))
                if (raced or _locked(exc)) and attempt < attempts - 1:
                    continue
                raise UsageError(
                    f"journal at {hide_password(url)} is unreachable: {exc.orig}"
                ) from None
            except sa.exc.DatabaseError as exc:
                raise UsageError(
                    f"{hide_password(str(location))} is not a cutover journal ({exc.orig})"
                ) from None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        # SQLite has one writer, and a transaction that read first fails at once when it
        # cannot take the write lock (no busy wait): the threads of this process (the
        # systems of a phase) queue here instead, in order; other processes still meet
        # `_patient`'s retries
        with self._one_at_a_time, self.engine.begin() as conn:
            yield conn

    # ------------------------------------------------------------------ runs

    @_patient
    def open_run(self, run_key: str, plan: str, env: str, clock: RunClock) -> RunClock:
        """Record a new run, or return the clock of the run already recorded under this key.

        A resumed run keeps its first clock, so compressed waits stay consistent.
        """
        with self._tx() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_key == run_key)).first()
            if row is not None:
                if row.plan != plan or row.env != env:
                    raise UsageError(
                        f"run key {run_key!r} belongs to plan {row.plan!r} in {row.env!r}; "
                        "pick another --run-key"
                    )
                skipped = conn.execute(
                    sa.select(skips.c.at, skips.c.seconds)
                    .where(skips.c.run_key == run_key)
                    .order_by(skips.c.id)
                ).all()
                return RunClock(
                    datetime.fromisoformat(row.plan_anchor),
                    datetime.fromisoformat(row.real_anchor),
                    row.scale,
                    tuple((datetime.fromisoformat(at), seconds) for at, seconds in skipped),
                )
        try:
            with self._tx() as conn:
                conn.execute(runs.insert().values(**self._run_row(run_key, plan, env, clock)))
        except sa.exc.IntegrityError:  # another process opened it first: its clock counts
            return self.open_run(run_key, plan, env, clock)
        return clock

    @staticmethod
    def _run_row(run_key: str, plan: str, env: str, clock: RunClock) -> dict[str, Any]:
        return {
            "run_key": run_key,
            "plan": plan,
            "env": env,
            "created_at": utcnow().isoformat(),
            "plan_anchor": clock.plan_anchor.isoformat(),
            "real_anchor": clock.real_anchor.isoformat(),
            "scale": clock.scale,
        }

    @_patient
    def skip_clock(self, run_key: str, clock: RunClock, to_plan: datetime) -> RunClock:
        """Jump a drill's clock forward to plan time `to_plan` (idle time skipped), durably.

        Every process of the run (and a resumed run) reads the same clock back.
        """
        moved = clock.skipped_to(to_plan)
        if moved is clock:
            return clock
        at, seconds = moved.skips[-1]
        with self._tx() as conn:
            conn.execute(skips.insert().values(run_key=run_key, at=at.isoformat(), seconds=seconds))
        return moved

    @_patient
    def run_keys(self) -> list[str]:
        with self._tx() as conn:
            return [r.run_key for r in conn.execute(sa.select(runs.c.run_key))]

    # ----------------------------------------------------------------- steps

    @_patient
    def _record(
        self,
        run_key: str,
        system: str,
        step: str,
        action: Action,
        status: Status,
        detail: dict[str, Any] | None = None,
    ) -> StepRecord:
        at = utcnow()
        key = idempotency_key(run_key, system, step, action)
        with self._tx() as conn:
            conn.execute(
                steps.insert().values(
                    run_key=run_key,
                    system=system,
                    step=step,
                    action=action,
                    status=status,
                    idempotency_key=key,
                    at=at.isoformat(),
                    detail=json.dumps(detail or {}, default=str),
                )
            )
        return StepRecord(run_key, system, step, action, status, key, at, detail or {})

    def begin(self, run_key: str, system: str, step: str, action: Action = "do") -> StepRecord:
        return self._record(run_key, system, step, action, "started")

    def finish(
        self,
        run_key: str,
        system: str,
        step: str,
        status: Status = "done",
        detail: dict[str, Any] | None = None,
        action: Action = "do",
    ) -> StepRecord:
        return self._record(run_key, system, step, action, status, detail)

    @_patient
    def is_done(self, run_key: str, system: str, step: str, action: Action = "do") -> bool:
        with self._tx() as conn:
            row = conn.execute(
                sa.select(steps.c.id)
                .where(
                    steps.c.run_key == run_key,
                    steps.c.system == system,
                    steps.c.step == step,
                    steps.c.action == action,
                    steps.c.status.in_(FINAL),
                )
                .limit(1)
            ).first()
        return row is not None

    def outcome(
        self, run_key: str, system: str, step: str, action: Action = "do"
    ) -> StepRecord | None:
        """The final record of a step (done or skipped), if it has one."""
        for record in reversed(self.history(run_key)):
            if (record.system, record.step, record.action) == (system, step, action) and (
                record.status in FINAL
            ):
                return record
        return None

    @_patient
    def history(self, run_key: str) -> list[StepRecord]:
        """Every step record of the run, oldest first."""
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(steps).where(steps.c.run_key == run_key).order_by(steps.c.id)
            ).all()
        return [_step_record(r) for r in rows]

    def completed(self, run_key: str, action: Action = "do") -> list[StepRecord]:
        """Steps done (not skipped), in the order they were done: what a rollback walks back."""
        return [r for r in self.history(run_key) if r.action == action and r.status == "done"]

    # ------------------------------------------------------------- decisions

    @_patient
    def decide(
        self,
        run_key: str,
        gate: str,
        department: str,
        decision: str,
        who: str,
        comment: str = "",
    ) -> Decision:
        at = utcnow()
        with self._tx() as conn:
            conn.execute(
                decisions.insert().values(
                    run_key=run_key,
                    gate=gate,
                    department=department,
                    decision=decision,
                    who=who,
                    comment=comment,
                    at=at.isoformat(),
                )
            )
        return Decision(run_key, gate, department, decision, who, comment, at)

    @_patient
    def decisions(self, run_key: str) -> list[Decision]:
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(decisions).where(decisions.c.run_key == run_key).order_by(decisions.c.id)
            ).all()
        return [_decision(r) for r in rows]


def _step_record(r: Any) -> StepRecord:
    names = ("run_key", "system", "step", "action", "status", "idempotency_key")
    fields = {name: getattr(r, name) for name in names}
    return StepRecord(**fields, at=datetime.fromisoformat(r.at), detail=json.loads(r.detail))


def _decision(r: Any) -> Decision:
    fields = {n: getattr(r, n) for n in ("run_key", "gate", "department", "decision", "who")}
    return Decision(**fields, comment=r.comment, at=datetime.fromisoformat(r.at))
