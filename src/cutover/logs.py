"""Logging set up once at the entry point: structlog over stdlib, secrets redacted.

Library code logs `snake_case` events with key-value fields
(`log.info("chunk_copied", rows=5000)`); run, system and step are bound through
contextvars (`bind_context`) and merged into every line. Output is pretty on a
terminal and JSON lines with `--log-format json`. Records go through stdlib
logging (logger name `cutover...`); `to_prefect()` adds Prefect's API handler to
that logger, so a line logged inside a flow or task run is in that run's logs in
the UI, as `event key=value ...` (what `PREFECT_LOGGING_EXTRA_LOGGERS=cutover` would
do, but readable, and whatever the order in which Prefect and this module were set up).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

from cutover import secrets

LogFormat = Literal["pretty", "json"]

_SENSITIVE_KEY = re.compile(r"(^|_)(token|password|passwd|authorization|api_key|secret)$", re.I)


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Processor: blank sensitive keys, scrub known secret values from every string.

    Keys *ending* in `_secret` hold secret names (e.g. `token_secret`), not values,
    and are kept; keys named like a credential (`token`, `password`, ...) are blanked.
    """
    for key, value in list(event_dict.items()):
        if _SENSITIVE_KEY.search(key) and not key.endswith("_secret"):
            event_dict[key] = "***"
        elif isinstance(value, str):
            event_dict[key] = secrets.redact(value)
        elif isinstance(value, BaseException):
            event_dict[key] = secrets.redact(repr(value))
    return event_dict


SHARED_PROCESSORS: tuple[Any, ...] = (
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.format_exc_info,
    redact_secrets,
)
"""The processor chain every log line goes through, in order."""


def configure(*, level: str = "info", fmt: LogFormat | None = None, stream: Any = None) -> None:
    """Configure structlog and stdlib logging once; pretty on a TTY unless `fmt` says."""
    stream = stream or sys.stderr
    if fmt is None:
        fmt = "pretty" if getattr(stream, "isatty", lambda: False)() else "json"
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer, foreign_pre_chain=list(SHARED_PROCESSORS)
        )
    )
    handler._cutover = True  # type: ignore[attr-defined]
    root = logging.getLogger("cutover")
    # replace our own handler only: Prefect's API handler, if set up already, stays
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_cutover", False)]
    root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False


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


def get_logger(name: str = "cutover") -> Any:
    """A structlog logger; call `configure` first at the entry point."""
    return structlog.stdlib.get_logger(name)


def bind_context(**values: Any) -> None:
    """Bind run/system/step (or anything) into every following log line of this context."""
    structlog.contextvars.bind_contextvars(**values)


def clear_context() -> None:
    structlog.contextvars.clear_contextvars()
