"""Prefect hooked into cutover's own seams: log lines in the runs' logs, secrets from blocks,
manual steps confirmed through a paused run's form.

`install()` runs wherever flows run: the CLI before it starts one, and a worker when
it imports the flows. Both hooks are idempotent. In a flow-run process a worker
started, it also ties that process's life to the worker's: a worker killed with
`kill -9` takes its runs with it, so their heartbeats stop and the crash automation
marks them Crashed, instead of orphans finishing steps nobody watches.
"""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping
from typing import Any

import structlog

from cutover import secrets
from cutover.children import die_with_parent
from cutover.logs import SHARED_PROCESSORS, configure


def install() -> None:
    """Send cutover's log lines to Prefect runs; look secrets up in Prefect Secret blocks too."""
    from .manual import install as ask_for_manual_steps

    to_prefect()
    secrets.add_source(secret_from_block)
    ask_for_manual_steps()  # a manual step pauses its system's run for the checklist form
    if os.environ.get("PREFECT__FLOW_RUN_ID"):  # set by a worker for the run it starts
        die_with_parent()  # SIGKILL: a run must not go on unwatched


def secret_from_block(name: str) -> str | None:
    """The value of the Prefect Secret block named after `name`, if a server has one."""
    if not os.environ.get("PREFECT_API_URL"):
        return None  # no server configured: the temporary one has no blocks
    from prefect.blocks.system import Secret

    try:
        block: Any = Secret.load(secrets.block_name(name))
    except (ValueError, RuntimeError):
        return None
    value = block.get()
    return value if isinstance(value, str) else None


def to_prefect() -> None:
    """Also send cutover's log lines to the Prefect flow or task run they are logged in.

    Call it after Prefect is imported (the runner does, before starting a flow; the
    flows module does when a worker imports it). Lines logged outside any run go to the
    terminal only. Idempotent.
    """
    from prefect.logging.handlers import APILogHandler

    root = logging.getLogger("cutover")
    # Prefect's own (PREFECT_LOGGING_EXTRA_LOGGERS=cutover) would send each line again, raw
    root.handlers[:] = [
        h
        for h in root.handlers
        if not isinstance(h, APILogHandler) or getattr(h, "_cutover_api", False)
    ]
    if any(getattr(h, "_cutover_api", False) for h in root.handlers):
        return
    if not any(getattr(h, "_cutover", False) for h in root.handlers):
        configure(level="info")  # a worker process that imported the flows: no CLI set it up
    handler = APILogHandler()
    handler._cutover_api = True  # type: ignore[attr-defined]
    handler.addFilter(_in_a_run)  # outside any run a line is the terminal's only, silently
    # the UI shows the time, level and logger itself: the message is the event and its fields
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _drop_meta,
                structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0, sort_keys=False),
            ],
            foreign_pre_chain=list(SHARED_PROCESSORS),
        )
    )
    root.addHandler(handler)


def _in_a_run(_record: logging.LogRecord) -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def _drop_meta(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in ("timestamp", "level", "logger"):
        event_dict.pop(key, None)
    return event_dict
