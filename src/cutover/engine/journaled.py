"""The journaled action: done once, skipped on resume, its outcome on record whatever happens.

Every step of a run (action `do`) and every step of a rollback (action `undo`) goes
through `journaled`: it looks the action up in the journal (done: skip it), records
its start, runs it with an idempotency key made from what it is (run key, system,
step, action: the same on every retry and resume), and records the outcome. Errors
are redacted before they reach the journal or a message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cutover import secrets
from cutover.errors import CutoverError, MigrationError, RollbackError, StepError
from cutover.journal import Action, idempotency_key
from cutover.logs import get_logger

from .context import RunContext

log = get_logger("cutover.journaled")

Work = Callable[[str], dict[str, Any]]
"""An action: given its idempotency key, do it and say what was done."""


def journaled(
    ctx: RunContext, system: str, step: str, work: Work, *, action: Action = "do"
) -> tuple[bool, dict[str, Any]]:
    """Run `work` unless the journal has it done; (ran now, detail). Raises StepError/RollbackError."""
    journal = ctx.journal
    done = journal.outcome(ctx.run_key, system, step, action=action)
    if done is not None:
        return False, dict(done.detail)
    journal.begin(ctx.run_key, system, step, action=action)
    began = time.perf_counter()
    try:
        detail = dict(work(idempotency_key(ctx.run_key, system, step, action)))
    except Exception as exc:
        message = secrets.redact(
            str(exc) if isinstance(exc, CutoverError) else f"{type(exc).__name__}: {exc}"
        )
        journal.finish(ctx.run_key, system, step, "failed", {"error": message}, action)
        log.warning("step_failed", system=system, step=step, action=action, error=message)
        cause = None if isinstance(exc, CutoverError) else exc
        if action == "undo":
            raise RollbackError(message, system=system, step=step) from cause
        retryable = isinstance(exc, MigrationError)
        raise StepError(message, system=system, step=step, retryable=retryable) from cause
    detail["seconds"] = round(time.perf_counter() - began, 3)
    journal.finish(ctx.run_key, system, step, "done", detail, action)
    log.info("step_done" if action == "do" else "undo_done", system=system, step=step)
    return True, detail
