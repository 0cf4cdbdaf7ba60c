"""Logging: JSON or pretty output, context bound once, secrets never printed."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from cutover import logs, secrets


def test_secret_values_and_credential_keys_are_redacted() -> None:
    """A resolved secret is scrubbed from any field; credential-named keys are blanked."""
    import os

    os.environ["CUTOVER_TEST_TOKEN"] = "s3cr3t-value-abcdef"
    value = secrets.resolve("CUTOVER_TEST_TOKEN", use_sources=False)
    stream = io.StringIO()
    logs.configure(fmt="json", stream=stream)
    log = logs.get_logger("cutover.test")
    logs.bind_context(run="r1", system="pos")
    log.info("calling", url=f"http://x/?t={value}", token="raw", token_secret="CUTOVER_TEST_TOKEN")
    logs.clear_context()
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert value not in stream.getvalue()
    assert line["url"] == "http://x/?t=***"
    assert line["token"] == "***"
    assert line["token_secret"] == "CUTOVER_TEST_TOKEN"  # a name, not a value: kept
    assert (line["run"], line["system"], line["event"]) == ("r1", "pos", "calling")


def test_unset_secret_error_names_only_the_name() -> None:
    import pytest

    from cutover.errors import UsageError

    with pytest.raises(UsageError, match="CUTOVER_NOT_SET") as info:
        secrets.resolve("CUTOVER_NOT_SET", use_sources=False)
    assert "export CUTOVER_NOT_SET=" in str(info.value)


def test_prefect_gets_each_line_once_readable_and_redacted() -> None:
    """`hooks.to_prefect` puts one API handler on the cutover logger (replacing Prefect's raw one):
    a run's log line reads `event key=value`, with secrets scrubbed like everywhere else."""
    import logging

    from prefect.logging.handlers import APILogHandler

    from cutover.flows import hooks

    root = logging.getLogger("cutover")
    saved = list(root.handlers)
    sent: list[str] = []
    try:
        root.handlers[:] = []  # whatever earlier tests left
        logs.configure(fmt="json", stream=io.StringIO())
        root.addHandler(APILogHandler())  # what PREFECT_LOGGING_EXTRA_LOGGERS=cutover adds
        hooks.to_prefect()
        root.addHandler(APILogHandler())  # Prefect set up again later (a worker, a harness)
        hooks.to_prefect()
        logs.configure(fmt="json", stream=io.StringIO())  # reconfiguring keeps Prefect's handler
        [handler] = [h for h in root.handlers if isinstance(h, APILogHandler)]
        handler.emit = lambda record: sent.append(handler.format(record))  # type: ignore[method-assign]
        log = logs.get_logger("cutover.steps")
        log.info("step_done", system="pos", password="hunter2")
        assert sent == []  # outside a flow or task run: the terminal's only
        handler.filters.clear()  # as inside a run
        log.info("step_done", system="pos", password="hunter2")
    finally:
        root.handlers[:] = saved
    assert sent == ["step_done system=pos password=***"]


def test_to_file_takes_every_logger_off_the_console_and_undo_puts_them_back(
    tmp_path: Path,
) -> None:
    """cutover's lines and Prefect's, uvicorn's, httpx's go to the file as JSON, redacted,
    none to a console stream; Prefect's V1 run link becomes the V2 page; undo restores."""
    console = io.StringIO()
    logs.configure(fmt="pretty", stream=console)
    root_before = list(logging.getLogger().handlers)
    undo = logs.to_file(tmp_path / "cutover.log")
    prefect = logging.getLogger("prefect")
    level, prefect.level = prefect.level, logging.INFO  # as Prefect's logging.yml sets it
    try:
        logs.get_logger("cutover.test").info("step_done", system="pos", token="s3cr3t-value")
        logging.getLogger("prefect.flow_runs").info(
            "View at http://127.0.0.1:4200/runs/flow-run/0b1c"
        )
        logging.getLogger("uvicorn.error").warning("uvicorn line")
        logging.getLogger("httpx").warning("httpx line")
    finally:
        prefect.level = level
        undo()
    lines = [json.loads(line) for line in (tmp_path / "cutover.log").read_text().splitlines()]
    events = [line["event"] for line in lines]
    assert events == [
        "step_done",
        "View at http://127.0.0.1:4200/v2/runs/flow-run/0b1c",
        "uvicorn line",
        "httpx line",
    ]
    assert lines[0]["token"] == "***" and "s3cr3t" not in console.getvalue()
    assert console.getvalue() == ""
    assert logging.getLogger().handlers == root_before
    logs.get_logger("cutover.test").info("after")
    assert "after" in console.getvalue()


def test_redirect_console_sends_lines_to_a_display_until_undone() -> None:
    """`cutover migrate copy`'s bar takes the log lines (printed above it), then gives them back."""
    console, display = io.StringIO(), io.StringIO()
    logs.configure(fmt="json", stream=console)
    undo = logs.redirect_console(display)
    logs.get_logger("cutover.test").info("during_the_bar")
    undo()
    logs.get_logger("cutover.test").info("after_the_bar")
    assert "during_the_bar" in display.getvalue() and "during_the_bar" not in console.getvalue()
    assert "after_the_bar" in console.getvalue() and "after_the_bar" not in display.getvalue()
