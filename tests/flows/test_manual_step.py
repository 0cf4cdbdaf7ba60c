"""A manual step confirmed by a person, live: the system's run pauses with the checklist
form, and the department's lead answers it through the gate client (what `cutover gate
approve --checked` and the Prefect UI's Resume form send).

A tiny plan (one system, one manual step, no gate), run without auto-approve: an answer
with an item unticked is journaled as a hold naming the item and the run keeps waiting;
`cutover gate approve` without `--checked` sends nothing; with it and the right secret
(on stdin) it confirms, and the run completes with the journal saying who confirmed.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest

from cutover.flows.launch import execute_run
from cutover.journal import Journal
from support import run_cli
from support_flows import (
    MANUAL_LEAD,
    MANUAL_SECRET,
    MANUAL_SECRET_NAME,
    flow_runs,
    manual_request,
    prefect_client,
    wait_for_paused,
)


def _description(paused: Any) -> str:
    import json

    from prefect.input.run_input import keyset_from_paused_state

    with prefect_client() as client:
        keyset = keyset_from_paused_state(paused.state)
        return str(json.loads(client.read_flow_run_input(paused.id, keyset["description"])))


def _paused_again(run_key: str, before: Any) -> Any:
    """The run paused with a new form (a new pause key) after an answer."""
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        paused = wait_for_paused(run_key)
        if paused.state.state_details.pause_key != before.state.state_details.pause_key:
            return paused
        time.sleep(0.5)
    raise AssertionError("the run never paused again")


def test_a_person_confirms_a_manual_checklist_through_the_gate_client(
    prefect_server: None, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unticked item: a hold naming it, the run still waiting; all ticked and signed: the
    step is done, confirmed by the lead, and the run completes."""
    from cutover.flows.gate_client import checklist_items, resume

    monkeypatch.setenv(MANUAL_SECRET_NAME, MANUAL_SECRET)
    request = manual_request(workdir, "manual-live")
    result: dict[str, Any] = {}

    def go() -> None:
        try:
            result["summary"] = execute_run(request)
        except BaseException as exc:  # surfaced by the assertions below
            result["error"] = exc

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    paused = wait_for_paused("manual-live")
    assert paused.name == "kiosks · night"  # the system's own run, where its lead looks
    assert "dept:airport-ops" in paused.tags
    assert checklist_items(paused) == ["item_1", "item_2"]
    assert "1 | DEN kiosks show the new program" in _description(paused)

    answer = {"department": "airport-ops", "decision": "approve", "name": MANUAL_LEAD}
    resume("manual-live", {**answer, "secret": MANUAL_SECRET, "item_1": True, "item_2": False})
    paused = _paused_again("manual-live", paused)
    assert "**Last answer:** Airport Operations held by Sam Okoye: not ticked: item 2" in (
        _description(paused)
    )
    journal = Journal(workdir / "journal.db")
    [hold] = journal.decisions("manual-live")
    assert (hold.gate, hold.decision, hold.who) == (
        "manual-kiosks-kiosks-checked",
        "hold",
        MANUAL_LEAD,
    )
    assert hold.comment == "not ticked: item 2"
    assert result == {}  # still waiting

    # from a terminal: without --checked nothing is sent; with it, every item is ticked
    approve = ("gate", "approve", "manual-live", "-d", "airport-ops", "-n", MANUAL_LEAD)
    monkeypatch.setattr("sys.stdin", io.StringIO(MANUAL_SECRET + "\n"))  # read first, never sent
    refused = run_cli(*approve)
    assert refused.code == 2 and "confirm every item is done with --checked" in refused.err
    assert len(journal.decisions("manual-live")) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO(MANUAL_SECRET + "\n"))
    confirmed = run_cli(*approve, "--checked", "-m", "all kiosks seen")
    assert confirmed.code == 0, confirmed.output
    assert "kiosks · night: airport-ops: approve recorded; the run goes on" in confirmed.out
    assert MANUAL_SECRET not in confirmed.output
    thread.join(timeout=120)
    assert "error" not in result, result.get("error")
    assert result["summary"].outcome == "completed"
    decisions = [(d.decision, d.who) for d in journal.decisions("manual-live")]
    assert decisions == [("hold", MANUAL_LEAD), ("approve", MANUAL_LEAD)]
    [done] = [r for r in journal.history("manual-live") if r.status == "done"]
    assert (done.system, done.step, done.detail["confirmed_by"]) == (
        "kiosks",
        "kiosks-checked",
        MANUAL_LEAD,
    )
    [run] = [r for r in flow_runs("run:manual-live") if r.name == "kiosks · night"]
    assert run.state.is_completed()
