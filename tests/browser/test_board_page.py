"""A department's board in the real Prefect UI at 1366x768: what is wrong shows without scrolling.

The demo plan with a fifth system for Digital & Mobile in the second phase and a
gate before the last phase that Digital signs. The journal says: the core was
done late, the second phase's gate signed, mobile-app's switch failed,
app-notifications' switch still running well past its planned 15 minutes, and
Digital's gate for the last phase still due. `publish_board` (the flows' own
code) publishes it to a real `prefect server start`; headless Chromium opens
`board-digital-<run key>` at 1366x768: the failed step, the waiting gate and the
late system are each inside the viewport, and nothing scrolls sideways.

Then the sign-off form of a real demo run paused at its first gate: the department
offered as "Loyalty Platform — Priya Natarajan", the deadline shown, and an empty
submit answered with every missing field named at once.
"""

from __future__ import annotations

import shutil
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_support import open_resume_form

from cutover.clock import RunClock, utcnow
from cutover.journal import Decision, StepRecord
from cutover.plan import load_plan
from cutover.plan.models import Plan
from cutover.plan.timeline import build_timeline
from support import PLANS

pytestmark = pytest.mark.slow

RUN_KEY = "board-page"
VIEWPORT = {"width": 1366, "height": 768}
TIMEOUT_MS = 30_000
ERROR = "POST /switch answered 500: program reward-tiers not loaded on 2 of 3 nodes"
NOTIFICATIONS = """
  - id: app-notifications
    name: Push notifications
    department: digital
    steps:
      - {step: freeze, mode: buffer-writes, expected: 5m}
      - {step: switch, expected: 15m}
      - {step: unfreeze, expected: 5m}

features:
"""


def _plan(tmp_path: Path) -> Plan:
    """The demo plan, a fifth system for Digital in `fronts`, a gate Digital signs before
    `downstream` (written beside copies of the files the plan names)."""
    folder = tmp_path / "plans"
    shutil.copytree(PLANS, folder, symlinks=False)
    text = (folder / "demo.yaml").read_text()
    text = text.replace("\nfeatures:\n", NOTIFICATIONS, 1)
    text = text.replace(
        "systems: [pos-stores, mobile-app]", "systems: [pos-stores, mobile-app, app-notifications]"
    )
    text = text.replace(
        "    systems: [crm-email]\n",
        "    systems: [crm-email]\n    gate:\n      approvers: [digital]\n",
    )
    (folder / "demo.yaml").write_text(text)
    return load_plan(folder / "demo.yaml").plan


def _journal(plan: Plan) -> tuple[list[StepRecord], list[Decision], datetime]:
    """Step records and gate answers in plan time, and the plan time the board is drawn at."""

    def record(system: str, step: str, status: str, at: datetime, **detail: Any) -> StepRecord:
        key = f"{RUN_KEY}:{system}:{step}:do"
        return StepRecord(RUN_KEY, system, step, "do", status, key, at, detail)

    history, at = [], plan.starts_at + timedelta(minutes=2)
    for step, length in (("migrate", 70), ("freeze", 5), ("verify", 10), ("switch", 5)):
        history += [record("loyalty-core", step, "started", at)]
        at += timedelta(minutes=length)
        history += [record("loyalty-core", step, "done", at)]
    history += [
        record("loyalty-core", "unfreeze", "started", at),
        record("loyalty-core", "unfreeze", "done", at + timedelta(minutes=5)),
    ]
    signed = at + timedelta(minutes=5)
    decisions = [
        Decision(RUN_KEY, "gate-prepare", "loyalty-platform", "approve", "Priya Natarajan", "", at),
        Decision(RUN_KEY, "gate-fronts", "store-tech", "approve", "Marcus Webb", "", signed),
        Decision(RUN_KEY, "gate-fronts", "digital", "approve", "Hana Sato", "", signed),
    ]
    at = signed + timedelta(minutes=1)
    for system in ("pos-stores", "mobile-app", "app-notifications"):
        history += [
            record(system, "freeze", "started", at),
            record(system, "freeze", "done", at + timedelta(minutes=5)),
            record(system, "switch", "started", at + timedelta(minutes=5)),
        ]
    history += [record("mobile-app", "switch", "failed", at + timedelta(minutes=9), error=ERROR)]
    return history, decisions, at + timedelta(minutes=45)


def test_a_department_board_shows_a_failure_a_waiting_gate_and_a_late_system_at_1366x768(
    prefect_ui: Any, chromium: Any, screenshots: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from cutover.flows.ui import publish_board

    plan = _plan(tmp_path)
    history, decisions, now = _journal(plan)
    real_now = utcnow()
    clock = RunClock(now, real_now, 1.0)  # plan time `now` is this very moment
    real = [
        StepRecord(**{**r.__dict__, "at": r.at - now + real_now})  # the journal keeps real time
        for r in history
    ]
    _in_a_thread(
        prefect_ui,
        lambda: publish_board(plan, build_timeline(plan), real, RUN_KEY, clock, None, decisions),
    )

    page = chromium.new_page(viewport=VIEWPORT)
    page.set_default_timeout(TIMEOUT_MS)
    _login(page, prefect_ui)
    page.goto(f"{prefect_ui.ui_url}/v2/artifacts/key/board-digital-{RUN_KEY}")
    # the key's page lists the board's versions, newest first, each with its headline
    expect(page.get_by_text("RED blocked: mobile-app switch failed").first).to_be_visible()
    page.screenshot(path=str(screenshots / "board-digital-versions.png"))
    page.locator("a[href*='/artifacts/artifact/']").first.click()
    page.wait_for_url("**/artifacts/artifact/**")
    expect(page.locator("li", has_text="FAILED").first).to_be_visible()
    page.screenshot(path=str(screenshots / "board-digital-1366x768.png"))
    page.screenshot(path=str(screenshots / "board-digital-full.png"), full_page=True)

    failed = page.locator("li", has_text="FAILED mobile-app · switch")
    gate = page.locator("li", has_text="gate Downstream")
    late = page.locator("li", has_text="app-notifications · switch RUNNING")
    for what, element in (("failed step", failed), ("waiting gate", gate), ("late system", late)):
        expect(element).to_be_visible()
        box = element.bounding_box()
        assert box is not None, what
        assert box["x"] >= 0 and box["y"] >= 0, (what, box)
        right, bottom = box["x"] + box["width"], box["y"] + box["height"]
        assert right <= VIEWPORT["width"] and bottom <= VIEWPORT["height"], (what, box)
    expect(failed).to_contain_text(ERROR)
    expect(gate).to_contain_text("still due Digital & Mobile — Hana Sato")
    expect(late).to_contain_text("late")
    _no_sideways_scroll(page)

    # the run's board: a line per department, then every system; nothing scrolls sideways
    page.goto(f"{prefect_ui.ui_url}/v2/artifacts/key/board-{RUN_KEY}")
    page.locator("a[href*='/artifacts/artifact/']").first.click()
    page.wait_for_url("**/artifacts/artifact/**")
    expect(page.locator("td", has_text="Digital & Mobile — Hana Sato").first).to_be_visible()
    page.screenshot(path=str(screenshots / "board-run-full.png"), full_page=True)
    _no_sideways_scroll(page)


SCROLLERS = """() => {
  const out = [], seen = new Set();
  for (const start of document.querySelectorAll('h3, p, li, table')) {
    for (let e = start; e && e !== document.body; e = e.parentElement) {
      if (seen.has(e)) continue;
      seen.add(e);
      const x = getComputedStyle(e).overflowX;
      if ((x === 'auto' || x === 'scroll') && e.scrollWidth > e.clientWidth + 1)
        out.push(e.tagName + '.' + e.className);
    }
  }
  return out;
}"""


def _no_sideways_scroll(page: Any) -> None:
    """Neither the page nor any box around the board's text scrolls sideways."""
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    assert page.evaluate(SCROLLERS) == []


def test_the_gate_form_names_departments_by_lead_shows_its_deadline_and_every_missing_field(
    prefect_ui: Any, chromium: Any, screenshots: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from cutover.flows.gate_client import resume
    from cutover.sim.server import running_estate
    from support import SIGNOFF
    from support_flows import DEMO, run_demo, wait_for_paused

    run_key, result = "gate-form", {}
    with running_estate(DEMO, "staging", workdir=tmp_path) as estate:

        def cutover() -> None:
            try:
                result["summary"] = run_demo(
                    tmp_path, run_key, estate.base_url, auto_approve=False, scale=300.0
                )
            except BaseException as exc:  # surfaced below
                result["error"] = exc

        thread = threading.Thread(target=_with_settings(prefect_ui, cutover), daemon=True)
        thread.start()
        first = wait_for_paused(run_key)
        page = chromium.new_page(viewport=VIEWPORT)
        page.set_default_timeout(TIMEOUT_MS)
        _login(page, prefect_ui)
        page.goto(f"{prefect_ui.ui_url}/v2/runs/flow-run/{first.id}")
        form = open_resume_form(page)
        expect(form.get_by_text("Deadline:")).to_be_visible()
        expect(
            form.get_by_text("unsigned by then, the gate times out", exact=False)
        ).to_be_visible()
        form.get_by_role("button", name="Select Department").click()
        option = page.get_by_role("option", name="Loyalty Platform — Priya Natarajan", exact=True)
        expect(option).to_be_visible()
        page.screenshot(path=str(screenshots / "gate-form-departments.png"))
        page.keyboard.press("Escape")
        form.get_by_role("button", name="Resume").click()  # nothing filled in
        expect(form).to_be_hidden()
        _wait_for_new_pause(run_key, first)
        page.reload()
        form = open_resume_form(page)
        expect(
            form.get_by_text("not signed: Department, Decision, Name, Secret missing", exact=False)
        ).to_be_visible()
        page.screenshot(path=str(screenshots / "gate-form-missing-fields.png"))
        # from a terminal, by id: the answer carries the label the form offers
        for department in ("loyalty-platform", "store-tech", "digital"):
            paused = wait_for_paused(run_key)
            who, _, secret = SIGNOFF[department]
            answer = {"department": department, "decision": "approve", "name": who}
            resume(run_key, {**answer, "secret": secret})
            _wait_for_new_pause(run_key, paused, or_running=True)
        thread.join(timeout=180)
    assert "error" not in result, result.get("error")
    assert result["summary"].outcome == "completed"


def _wait_for_new_pause(run_key: str, before: Any, or_running: bool = False) -> None:
    """Until the run is paused at another pause key (or, with `or_running`, not paused)."""
    from support_flows import prefect_client

    deadline = time.monotonic() + 90
    key = before.state.state_details.pause_key
    while time.monotonic() < deadline:
        with prefect_client() as client:
            state = client.read_flow_run(before.id).state
        if state is not None and state.is_paused() and state.state_details.pause_key != key:
            return
        if or_running and state is not None and not state.is_paused():
            return
        time.sleep(0.5)
    raise AssertionError(f"{run_key} never paused again after {key}")


def _with_settings(prefect_ui: Any, call: Any) -> Any:
    """`call` for a new thread, with this test's Prefect settings (a thread starts without)."""
    from prefect.context import SettingsContext, get_settings_context

    profile = get_settings_context().profile

    def run() -> None:
        with SettingsContext(profile=profile, settings=prefect_ui.settings):
            call()

    return run


def _in_a_thread(prefect_ui: Any, call: Any) -> None:
    """Call it as the run's watcher does: in a thread of its own (this one runs Playwright's
    event loop, in which Prefect would hand back coroutines), with this test's settings."""
    from prefect.context import SettingsContext, get_settings_context

    profile, failed = get_settings_context().profile, []

    def run() -> None:
        with SettingsContext(profile=profile, settings=prefect_ui.settings):
            try:
                call()
            except BaseException as exc:  # raised below, in the test
                failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if failed:
        raise failed[0]


def _login(page: Any, prefect_ui: Any) -> None:
    page.goto(prefect_ui.ui_url)
    page.wait_for_url("**/login**")
    page.locator("input").first.fill(prefect_ui.auth)
    page.get_by_role("button", name="Login").click()
    page.wait_for_url("**/dashboard**")
