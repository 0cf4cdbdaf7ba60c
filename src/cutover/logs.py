"""Logging set up once at the entry point: structlog over stdlib, secrets redacted.

Library code logs `snake_case` events with key-value fields
(`log.info("chunk_copied", rows=5000)`); run, system and step are bound through
contextvars (`bind_context`) and merged into every line. Output is pretty on a
terminal and JSON lines with `--log-format json`. Records go through stdlib
logging (logger name `cutover...`); `cutover.flows.hooks.to_prefect()` adds Prefect's API handler to
that logger, so a line logged inside a flow or task run is in that run's logs in
the UI, as `event key=value ...` (what `PREFECT_LOGGING_EXTRA_LOGGERS=cutover` would
do, but readable, and whatever the order in which Prefect and this module were set up).

While a run is shown live (`cutover run`, `demo`, `drill`), `to_file` sends every line,
cutover's and the foreign loggers' (Prefect's, uvicorn's, httpx's), through the same
processors into one JSON-lines file beside the run's report; `--verbose` echoes them.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path
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


def redirect_console(stream: Any) -> Callable[[], None]:
    """Write cutover's console lines to `stream` (e.g. above a progress bar) until the
    returned undo is called."""
    handlers = [
        h
        for h in logging.getLogger("cutover").handlers
        if getattr(h, "_cutover", False)
        and isinstance(h, logging.StreamHandler)
        and not isinstance(h, logging.FileHandler)
    ]
    before = [h.setStream(stream) for h in handlers]

    def undo() -> None:
        for handler, old in zip(handlers, before, strict=True):
            if old is not None:
                handler.setStream(old)

    return undo


def get_logger(name: str = "cutover") -> Any:
    """A structlog logger; call `configure` first at the entry point."""
    return structlog.stdlib.get_logger(name)


def bind_context(**values: Any) -> None:
    """Bind run/system/step (or anything) into every following log line of this context."""
    structlog.contextvars.bind_contextvars(**values)


def clear_context() -> None:
    structlog.contextvars.clear_contextvars()


FOREIGN_LOGGERS: tuple[str, ...] = (
    "prefect",
    "prefect.flow_runs",
    "prefect.task_runs",
    "prefect.extra",
    "prefect._internal",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "fastapi",
    "httpx",
    "httpcore",
)
"""Loggers of the libraries a run uses whose lines must not reach the terminal raw."""

_V1_RUN_LINK = re.compile(r"(?<!/v2)/runs/flow-run/")


class V2Links(logging.Filter):
    """Prefect's "View at <ui>/runs/flow-run/<id>" opens the old UI: point it at the V2 page."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "/runs/flow-run/" in record.msg:
            record.msg = _V1_RUN_LINK.sub("/v2/runs/flow-run/", record.msg)
        return True


def _formatted(handler: logging.Handler, renderer: Any) -> logging.Handler:
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer, foreign_pre_chain=list(SHARED_PROCESSORS)
        )
    )
    handler._cutover = True  # type: ignore[attr-defined]
    return handler


def _is_console(handler: logging.Handler) -> bool:
    """A handler that writes to a stream (Prefect's console, ours), not to Prefect's API."""
    return isinstance(handler, logging.StreamHandler) or getattr(handler, "_cutover", False)


def to_file(path: Path, *, echo: Any = None) -> Callable[[], None]:
    """From now on every log line goes to `path` as JSON lines, and to `echo` (a stream) too
    if given; cutover's and the foreign loggers' alike, none to a console. Prefect's API
    handler (the runs' logs in the UI) stays. Returns the undo, which puts the handlers back.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        _formatted(logging.FileHandler(path, encoding="utf-8"), structlog.processors.JSONRenderer())
    ]
    if echo is not None:
        handlers.append(
            _formatted(logging.StreamHandler(echo), structlog.dev.ConsoleRenderer(colors=False))
        )
    saved: list[tuple[logging.Logger, list[logging.Handler]]] = []
    root = logging.getLogger()
    for logger in [root, logging.getLogger("cutover")] + [
        logging.getLogger(n) for n in FOREIGN_LOGGERS
    ]:
        saved.append((logger, list(logger.handlers)))
        kept = [h for h in logger.handlers if not _is_console(h)]
        # a logger that passes its lines up gets them written by the root's handlers
        logger.handlers[:] = kept + (handlers if logger is root or not logger.propagate else [])
    links = V2Links()
    flow_runs = logging.getLogger("prefect.flow_runs")
    flow_runs.addFilter(links)

    def undo() -> None:
        flow_runs.removeFilter(links)
        for logger, before in saved:  # keeping what was added meanwhile (Prefect's API handler)
            added = [h for h in logger.handlers if h not in before and h not in handlers]
            logger.handlers[:] = before + added
        for handler in handlers:
            handler.close()

    return undo
