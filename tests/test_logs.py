"""Logging: JSON or pretty output, context bound once, secrets never printed."""

from __future__ import annotations

import io
import json

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
