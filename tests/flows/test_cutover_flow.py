"""The cutover flow on Prefect's test harness against the real estate on loopback.

What department leads see is checked through Prefect's own client (tags, run and
task names, artifacts, the paused gate and its input schema), not through our
code's return values.
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cutover import logs
from cutover.control.client import ControlClient
from cutover.journal import Journal
from cutover.sim.server import running_estate
from support import PLANS, SIGNOFF, run_cli
from support_flows import (
    _plan,
    artifact,
    cutover_events,
    flow_runs,
    run_demo,
    run_log_lines,
    wait_for_paused,
)

DEMO = PLANS / "demo.yaml"


def sign(
    department: str,
    decision: str = "approve",
    *,
    name: str = "",
    secret: str = "",
    comment: str = "",
) -> dict[str, str]:
    """A sign-off form's answer for `department`, by its lead with the right secret by default."""
    lead, _, value = SIGNOFF[department]
    return {
        "department": department,
        "decision": decision,
        "name": name or lead,
        "secret": secret or value,
        "comment": comment,
    }


def _until(condition: Any, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except AssertionError:
            pass
        time.sleep(0.5)
    raise AssertionError("condition never held")


def _description(paused: Any) -> str:
    import json

    from prefect.input.run_input import keyset_from_paused_state

    from support_flows import prefect_client

    with prefect_client() as client:
        keyset = keyset_from_paused_state(paused.state)
        return str(json.loads(client.read_flow_run_input(paused.id, keyset["description"])))


def test_demo_cutover_completes_and_leads_see_their_systems(
    prefect_server: None, workdir: Path
) -> None:
    """Every system ends on the new program; dept tags, run names, boards are in Prefect."""
    logs.configure(level="info")  # as the CLI does
    with running_estate(DEMO, "staging", workdir=workdir) as estate:
        summary = run_demo(workdir, "flow-ok", estate.base_url)
        programs = {}
        for system in ("loyalty-core", "pos-stores", "mobile-app", "crm-email"):
            with ControlClient(estate.system_url(system), system=system, token=estate.token) as c:
                programs[system] = c.state().program
    assert summary.outcome == "completed"
    assert set(programs.values()) == {"reward-tiers"}

    digital = flow_runs("dept:digital", "run:flow-ok")
    assert sorted(r.name for r in digital) == ["crm-email · downstream", "mobile-app · fronts"]
    for run in digital:
        assert "env:staging" in run.tags and any(t.startswith("phase:") for t in run.tags)
        assert run.state.is_completed()
    # cutover's own log lines are in the run's logs in the UI, one per step done
    mobile = next(r for r in digital if r.name.startswith("mobile-app"))
    lines = run_log_lines(mobile.id, "step_done")
    assert lines and all("system=mobile-app" in line for line in lines), lines

    board = artifact("board-flow-ok")  # markdown pages now
    assert "**GREEN**" in board and "FAILED" not in board and "pending" not in board, board
    for system in _plan().systems:
        assert f"| {system.id} |" in board
    mine = artifact("board-digital-flow-ok")
    assert mine.startswith("### Digital & Mobile — Hana Sato"), mine
    assert "| mobile-app |" in mine and "| crm-email |" in mine and "| pos-stores |" not in mine
    events = cutover_events("flow-ok", until="cutover.gate.signed")
    signed = {r.id for e in events if e.event == "cutover.gate.signed" for r in e.related}
    assert {"cutover.department.loyalty-platform", "cutover.gate.gate-prepare"} <= signed
    assert any(e.event == "cutover.gate.waiting" for e in events)
    notices = artifact("notices-flow-ok")
    assert {n["kind"] for n in notices} >= {"advance", "started", "restored"}

    journal = Journal(workdir / "journal.db")
    done = Counter((r.system, r.step) for r in journal.history("flow-ok") if r.status == "done")
    assert done and max(done.values()) == 1


def test_gates_wait_for_each_department_and_record_who_signed(
    prefect_server: None, workdir: Path
) -> None:
    """The run pauses at each gate with a typed form; each department signs; the journal says who."""
    from cutover.flows.gate_client import resume, waiting_for

    result: dict[str, Any] = {}
    with running_estate(DEMO, "staging", workdir=workdir) as estate:

        def go() -> None:
            try:
                result["summary"] = run_demo(
                    workdir, "flow-gates", estate.base_url, auto_approve=False
                )
            except BaseException as exc:  # surfaced by the assertions below
                result["error"] = exc

        thread = threading.Thread(target=go)
        thread.start()
        paused = wait_for_paused("flow-gates")
        schema = waiting_for(paused)
        assert not schema.get("required")  # the flow names every missing field itself
        assert set(schema["properties"]) >= {"department", "decision", "name", "secret"}
        assert schema["properties"]["secret"]["format"] == "password"
        assert "comment" not in schema.get("required", [])
        # someone who is not the lead is refused, journaled, and the gate keeps waiting
        resume("flow-gates", sign("loyalty-platform", name="Random Intern", secret="guess"))
        paused = wait_for_paused("flow-gates")
        assert "**Last answer:** Loyalty Platform: wrong name or sign-off secret" in _description(
            paused
        )
        resume("flow-gates", sign("loyalty-platform", comment="backup verified"))
        # the second gate needs two departments: hold first, then both approve
        paused = wait_for_paused("flow-gates")
        resume("flow-gates", sign("store-tech", "hold", comment="stores still closing"))
        paused = wait_for_paused("flow-gates")
        description = _description(paused)
        assert "HELD by Marcus Webb: stores still closing" in description
        held = "HELD by Marcus Webb (Store Technology): stores still closing"
        _until(lambda: held in artifact("board-flow-gates"))
        for dept in ("store-tech", "digital"):
            wait_for_paused("flow-gates")
            resume("flow-gates", sign(dept))
        thread.join(timeout=180)
    assert "error" not in result, result.get("error")
    assert result["summary"].outcome == "completed"
    decisions = [
        (d.gate, d.department, d.decision, d.who)
        for d in Journal(workdir / "journal.db").decisions("flow-gates")
    ]
    assert decisions == [
        ("gate-prepare", "loyalty-platform", "refused", "Random Intern"),
        ("gate-prepare", "loyalty-platform", "approve", "Priya Natarajan"),
        ("gate-fronts", "store-tech", "hold", "Marcus Webb"),
        ("gate-fronts", "store-tech", "approve", "Marcus Webb"),
        ("gate-fronts", "digital", "approve", "Hana Sato"),
    ]
    events = cutover_events("flow-gates", until="cutover.gate.held")
    by_name = {(e.event, tuple(r.id for r in e.related if r.role == "department")) for e in events}
    assert {
        ("cutover.gate.waiting", ("cutover.department.loyalty-platform",)),
        ("cutover.gate.refused", ("cutover.department.loyalty-platform",)),
        ("cutover.gate.signed", ("cutover.department.loyalty-platform",)),
        ("cutover.gate.held", ("cutover.department.store-tech",)),
        ("cutover.gate.signed", ("cutover.department.digital",)),
    } <= by_name
    _assert_no_secret_anywhere("flow-gates", workdir, events)


def _stored_input(client: Any, flow_run_id: Any, key: str) -> str | None:
    """A run input Prefect still holds (the sign-off answers are deleted once read)."""
    try:
        return str(client.read_flow_run_input(flow_run_id, key))
    except Exception:
        return None


def _assert_no_secret_anywhere(run_key: str, workdir: Path, events: list[Any]) -> None:
    """Every log line, artifact, event and journal row of the run, searched for each secret."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from support_flows import prefect_client

    runs = flow_runs(f"run:{run_key}")
    with prefect_client() as client:
        logs_ = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[r.id for r in runs]))
        )
        artifacts = client.read_artifacts()
        inputs = [
            _stored_input(client, r.id, f"paused-gate-prepare-{n}-response")
            for r in runs
            for n in (1, 2)
        ]
    journal = Journal(workdir / "journal.db")
    haystack = "\n".join(
        [log.message for log in logs_]
        + [f"{a.data} {a.description}" for a in artifacts]
        + [e.model_dump_json() for e in events]
        + [str(r) for r in journal.history(run_key)]
        + [str(d) for d in journal.decisions(run_key)]
        + [str(i) for i in inputs if i]
    )
    assert len(logs_) > 10 and artifacts and events  # there was something to search
    for _, _, secret in SIGNOFF.values():
        assert secret not in haystack


def test_a_department_not_awaited_is_refused_and_the_run_stays_paused(
    prefect_server: None, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """...and `cutover gate approve` reads the secret from stdin, says when it is refused."""
    from cutover.errors import UsageError
    from cutover.flows.gate_client import paused_runs, resume

    with running_estate(DEMO, "staging", workdir=workdir) as estate:
        thread = threading.Thread(
            target=lambda: run_demo(workdir, "flow-refuse", estate.base_url, auto_approve=False),
            daemon=True,
        )
        thread.start()
        wait_for_paused("flow-refuse")
        with pytest.raises(UsageError, match="not awaited at this gate"):
            resume("flow-refuse", sign("digital"))
        assert paused_runs("flow-refuse")
        lead, _, secret = SIGNOFF["loyalty-platform"]
        approve = ("gate", "approve", "flow-refuse", "-d", "loyalty-platform", "-n", lead)
        monkeypatch.setattr("sys.stdin", io.StringIO("not-the-secret\n"))
        refused = run_cli(*approve)
        assert refused.code == 1, refused.output
        assert "Loyalty Platform: wrong name or sign-off secret" in refused.out
        assert "not-the-secret" not in refused.output
        wait_for_paused("flow-refuse")
        monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))
        signed = run_cli(*approve)
        assert signed.code == 0, signed.output
        for dept in ("store-tech", "digital"):
            wait_for_paused("flow-refuse")
            resume("flow-refuse", sign(dept))
        thread.join(timeout=180)


@pytest.mark.parametrize(
    ("flow_name", "option", "refused"),
    [
        ("cutover", {"auto_approve": True}, "--auto-approve"),
        ("cutover", {"scale": 300.0}, "--time-scale 300"),
        ("cutover", {"on_failure": "rollback"}, "--on-failure"),
        ("cutover", {"skip_idle": True}, "--skip-idle"),
        ("rollback", {"auto_approve": True}, "--auto-approve"),
        ("rollback", {"past_point_of_no_return": True}, "--past-point-of-no-return"),
    ],
)
def test_the_flows_refuse_production_with_drill_options_whoever_starts_them(
    prefect_server: None, workdir: Path, flow_name: str, option: dict[str, Any], refused: str
) -> None:
    """Started with plain parameters (as the UI's custom run or `prefect deployment run`
    would), production with auto-approve fails validation: the run fails saying why,
    and nothing runs (no journal is even opened)."""
    from cutover.flows.cutover_flow import cutover
    from cutover.flows.rollback_flow import rollback

    flow = {"cutover": cutover, "rollback": rollback}[flow_name]
    parameters = {
        "plan_path": str(DEMO.resolve()),
        "env": "production",
        "run_key": f"refused-{flow_name}-{refused.split()[0].strip('-')}",
        "journal": str(workdir / "journal.db"),
        "workdir": str(workdir / "run"),
        **option,
    }
    with pytest.raises(Exception, match=f"{refused} is refused for env production"):
        flow(request=parameters)  # type: ignore[arg-type]
    assert not (workdir / "journal.db").exists()
    [run] = [
        r
        for r in flow_runs()
        if r.parameters.get("request", {}).get("run_key") == parameters["run_key"]
    ]
    assert run.state is not None and run.state.is_failed()
    assert f"{refused} is refused for env production" in str(run.state.message)


def test_a_gate_nobody_answers_ends_the_run_in_one_line_after_its_human_time(
    prefect_server: None, workdir: Path
) -> None:
    """At 3000x a 5 s gate would last 2 ms of real time if the clock compressed it: it waits
    its 5 real seconds, then the run stops with who is due and how to come back (exit 4)."""
    import shutil

    from cutover.errors import GateTimeout
    from cutover.flows.launch import execute_run
    from support_flows import demo_request

    plans = workdir / "plans"
    shutil.copytree(PLANS, plans)
    text = (plans / "demo.yaml").read_text()
    note = "      note: Confirm the legacy backup"
    (plans / "demo.yaml").write_text(text.replace(note, "      timeout: 5s\n" + note))
    with running_estate(plans / "demo.yaml", "staging", workdir=workdir) as estate:
        request = demo_request(
            workdir, "gate-timeout", estate.base_url, auto_approve=False, scale=3000.0
        ).model_copy(update={"plan_path": str(plans / "demo.yaml")})
        with pytest.raises(GateTimeout) as raised:
            execute_run(request)
    assert raised.value.exit_code == 4
    assert str(raised.value) == (
        "gate gate-prepare was not answered in 5 s; still due: Loyalty Platform "
        f"(Priya Natarajan). Come back to it with: cutover run {plans / 'demo.yaml'} "
        "--env staging --run-key gate-timeout"
    )
