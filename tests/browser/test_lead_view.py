"""A department lead in the real Prefect UI, in a real browser, during a compressed cutover.

The demo plan runs against the simulated estate and a real `prefect server
start` with basic auth, gates left to people. In headless Chromium a lead logs
in, signs the first gate in the Resume form, watches the run go on, filters the
runs by `dept:<id>` and sees exactly that department's systems, reads the
status board (a markdown page) and the customer notices. Assertions are on page text; the
screenshots (in `screenshots/lead-view/`) are for people to look at.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from browser_support import open_resume_form

from cutover.journal import Journal
from cutover.sim.server import running_estate
from support import SIGNOFF
from support_flows import DEMO, _plan, artifact, run_demo, wait_for_paused

pytestmark = pytest.mark.slow

RUN_KEY = "lead-view"
TIMEOUT_MS = 30_000


def test_a_lead_signs_the_gate_and_follows_the_run_in_the_prefect_ui(
    prefect_ui: Any, chromium: Any, screenshots: Path, tmp_path: Path
) -> None:
    """Login, gate form, run continues, dept filter, board and notices — all as a lead sees them."""
    from playwright.sync_api import expect

    from cutover.flows.gate_client import resume

    plan = _plan()
    first = plan.phases[0]
    assert first.gate is not None and list(first.gate.approvers) == ["loyalty-platform"]
    core = plan.system("loyalty-core")
    redeeming = next(f.name for f in plan.features if f.id == "redeem-rewards")
    result: dict[str, Any] = {}
    with running_estate(DEMO, "staging", workdir=tmp_path) as estate:
        settings = prefect_ui.settings

        def cutover() -> None:
            from prefect.context import SettingsContext

            # a new thread starts without this test's Prefect settings: hand them over
            with SettingsContext(profile=_profile(), settings=settings):
                try:
                    result["summary"] = run_demo(
                        tmp_path, RUN_KEY, estate.base_url, auto_approve=False, scale=300.0
                    )
                except BaseException as exc:  # surfaced by the assertions below
                    result["error"] = exc

        thread = threading.Thread(target=cutover, name="cutover", daemon=True)
        thread.start()
        wait_for_paused(RUN_KEY)

        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        ui = prefect_ui.ui_url

        # -- logging in: the server's address, then its user:password on the login page
        page.goto(ui)
        page.wait_for_url("**/login**")
        page.locator("input").first.fill(prefect_ui.auth)
        page.get_by_role("button", name="Login").click()
        page.wait_for_url("**/dashboard**")

        # -- the paused gate: Priya, lead of Loyalty Platform, signs it in the Resume form
        page.get_by_role("link", name="Runs", exact=True).first.click()
        page.get_by_role("link", name=RUN_KEY, exact=True).click()
        expect(page.get_by_text("Paused").first).to_be_visible()
        form = open_resume_form(page)
        expect(form.get_by_text(f"Go / no-go: {first.title}")).to_be_visible()
        expect(form.get_by_text(str(first.gate.note))).to_be_visible()
        for label in ("Department", "Decision", "Name", "Secret", "Comment"):
            expect(form.get_by_text(f"{label} (Optional)", exact=True)).to_be_visible()
        expect(form.get_by_text("Deadline:")).to_be_visible()
        # every field "(Optional)": the run checks them and names every one missing
        lead, _, secret = SIGNOFF["loyalty-platform"]
        # a wrong secret first: refused, and the form says so when it opens again
        _fill_sign_off(page, form, lead, "not-her-secret", "")
        form.get_by_role("button", name="Resume").click()
        expect(form).to_be_hidden()
        _wait(
            lambda: any(
                d.decision == "refused" for d in Journal(tmp_path / "journal.db").decisions(RUN_KEY)
            )
        )
        page.reload()
        form = open_resume_form(page)
        expect(form.get_by_text("wrong name or sign-off secret").first).to_be_visible()
        _fill_sign_off(page, form, lead, secret, "legacy backup verified at 20:40")
        page.screenshot(path=str(screenshots / "1-gate-form.png"))
        form.get_by_role("button", name="Resume").click()
        expect(form).to_be_hidden()

        # -- the run goes on: the core system runs, then the next gate waits
        wait_for_paused_at(RUN_KEY, "gate-fronts", tmp_path / "journal.db")
        decisions = Journal(tmp_path / "journal.db").decisions(RUN_KEY)
        assert [(d.gate, d.department, d.decision, d.who, d.comment) for d in decisions] == [
            ("gate-prepare", "loyalty-platform", "refused", lead, "wrong name or sign-off secret"),
            (
                "gate-prepare",
                "loyalty-platform",
                "approve",
                lead,
                "legacy backup verified at 20:40",
            ),
        ]
        page.reload()
        page.get_by_role("tab", name="Subflow Runs").click()
        expect(page.get_by_role("link", name="loyalty-core · prepare")).to_be_visible()
        page.screenshot(path=str(screenshots / "2-run-continued.png"))

        # -- her department's runs: Runs page, Tags filter, dept:loyalty-platform
        page.get_by_role("link", name="Runs", exact=True).first.click()
        tags = page.get_by_label("All tags")
        tags.fill("dept:loyalty-platform")
        tags.press("Enter")
        tags.blur()  # leave the field: the tag shows as a chip
        expect(page).to_have_url(_contains("tags=dept%3Aloyalty-platform"))
        assert _listed_runs(page, 1) == ["loyalty-core · prepare"]
        page.screenshot(path=str(screenshots / "3-runs-dept-loyalty-platform.png"))

        # -- the status board: newest version of board-<run key>, a markdown page
        core_done = "| loyalty-core | prepare | migrate done"
        _wait(lambda: core_done in artifact(f"board-{RUN_KEY}"))
        board = artifact(f"board-{RUN_KEY}")
        _open_latest_board(page, ui, f"board-{RUN_KEY}")
        page.screenshot(path=str(screenshots / "4-status-board.png"), full_page=True)
        expect(page.get_by_text("Loyalty Platform — Priya Natarajan").first).to_be_visible()
        expect(page.locator("td", has_text="unfreeze done").first).to_be_visible()
        assert "| pos-stores | fronts | freeze pending" in board, board
        assert "| crm-email | downstream |" in board, board

        mine_key = f"board-loyalty-platform-{RUN_KEY}"
        _wait(lambda: core_done in artifact(mine_key))
        mine = artifact(mine_key)
        assert mine.startswith("### Loyalty Platform — Priya Natarajan"), mine
        assert "| pos-stores |" not in mine and "| mobile-app |" not in mine, mine
        assert all(f"{step.key} done" in mine for step in core.steps), mine

        # -- the customer notices sent so far
        _wait(lambda: {"started", "restored"} <= _kinds(artifact(f"notices-{RUN_KEY}")))
        notices = _open_latest_artifact(page, ui, f"notices-{RUN_KEY}")
        redeem = {row["kind"]: row["text"] for row in notices if row["feature"] == redeeming}
        assert {"advance", "started", "restored"} <= set(redeem), notices
        assert all(redeem.values()), notices  # every notice says something to customers
        page.screenshot(path=str(screenshots / "5-notices.png"), full_page=True)

        # -- Store Technology holds from a terminal: the form and the board say who and why
        wait_for_paused_at(RUN_KEY, "gate-fronts", tmp_path / "journal.db")
        webb, _, webb_secret = SIGNOFF["store-tech"]
        hold = {"department": "store-tech", "decision": "hold", "name": webb}
        resume(RUN_KEY, {**hold, "secret": webb_secret, "comment": "stores still closing"})
        _wait(
            lambda: any(
                d.decision == "hold" for d in Journal(tmp_path / "journal.db").decisions(RUN_KEY)
            )
        )
        wait_for_paused_at(RUN_KEY, "gate-fronts", tmp_path / "journal.db")
        page.get_by_role("link", name="Runs", exact=True).first.click()
        page.get_by_role("link", name=RUN_KEY, exact=True).click()
        form = open_resume_form(page)
        expect(form.get_by_text(f"held by {webb}: stores still closing").first).to_be_visible()
        page.screenshot(path=str(screenshots / "5b-gate-held.png"))
        held = f"HELD by {webb} (Store Technology): stores still closing"
        _wait(lambda: held in artifact(f"board-{RUN_KEY}"))
        _open_latest_board(page, ui, f"board-{RUN_KEY}")
        expect(page.get_by_text(held).first).to_be_visible()

        # -- the other leads sign from a terminal; the run ends
        for department in ("store-tech", "digital"):
            wait_for_paused_at(RUN_KEY, "gate-fronts", tmp_path / "journal.db")
            who, _, value = SIGNOFF[department]
            answer = {"department": department, "decision": "approve", "name": who}
            resume(RUN_KEY, {**answer, "secret": value})
        thread.join(timeout=120)
        assert "error" not in result, result.get("error")
        assert result["summary"].outcome == "completed"

        # -- Digital's lead, from the link in the docs: exactly her two systems
        page.goto(f"{ui}/v2/runs?tags=dept:digital")
        assert _listed_runs(page, 2) == ["crm-email · downstream", "mobile-app · fronts"]
        expect(page.get_by_text("Completed").first).to_be_visible()
        page.screenshot(path=str(screenshots / "6-runs-dept-digital.png"))


def _profile() -> Any:
    from prefect.context import get_settings_context

    return get_settings_context().profile


def wait_for_paused_at(run_key: str, gate: str, journal: Path, timeout: float = 90) -> Any:
    """The run, once it waits at `gate` (its pause key is `<gate>-<attempt>`)."""
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        run = wait_for_paused(run_key, timeout=deadline - time.monotonic())
        key = str(run.state.state_details.pause_key)
        if key.startswith(gate):
            return run
        seen.add(key)
        time.sleep(0.5)
    failed = [r for r in Journal(journal).history(run_key) if r.status == "failed"]
    raise AssertionError(f"run {run_key} never paused at {gate}: seen {sorted(seen)}; {failed}")


def _fill_sign_off(page: Any, form: Any, name: str, secret: str, comment: str) -> None:
    _choose(page, form, "Department", "Loyalty Platform — Priya Natarajan")
    _choose(page, form, "Decision", "approve")
    form.locator("textarea").nth(0).fill(name)
    form.locator("input[type=password]").fill(secret)
    form.locator("textarea").nth(1).fill(comment)


def _choose(page: Any, form: Any, field: str, option: str) -> None:
    """Pick `option` in the form's drop-down for `field`.

    The UI polls the paused run and may redraw the form while the list is open
    (closing it): open it again, as a person would, until the choice shows.
    """
    trigger = form.get_by_role("button", name=f"Select {field}")
    for _ in range(5):
        if page.get_by_role("option", name=option, exact=True).count() == 0:
            trigger.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=3_000)
        except Exception:  # the list was redrawn under the click: try again
            continue
        if trigger.inner_text().strip() == option:
            return
    raise AssertionError(f"could not choose {option!r} for {field}")


def _listed_runs(page: Any, expected: int) -> list[str]:
    """Names of the flow runs listed on the Runs page, once `expected` of them show."""
    from playwright.sync_api import expect

    links = page.locator("a[href*='/runs/flow-run/']")
    expect(links).to_have_count(expected)
    return sorted(links.all_inner_texts())


def _open_latest_board(page: Any, ui_url: str, key: str) -> None:
    """Open the newest version of a board (a markdown artifact) from its key's page."""
    from playwright.sync_api import expect

    page.goto(f"{ui_url}/v2/artifacts/key/{key}")
    page.locator("a[href*='/artifacts/artifact/']").first.click()
    page.wait_for_url("**/artifacts/artifact/**")
    expect(page.locator("h3").first).to_be_visible()


def _open_latest_artifact(page: Any, ui_url: str, key: str) -> list[dict[str, str]]:
    """Open the newest version of a table artifact; its rows as the page shows them."""
    from playwright.sync_api import expect

    page.goto(f"{ui_url}/v2/artifacts/key/{key}")
    page.locator("a[href*='/artifacts/artifact/']").first.click()
    table = page.locator("table").first
    expect(table.locator("tbody tr").first).to_be_visible()
    pager = page.get_by_text("Items per page").locator("..")
    if pager.count():  # ten rows a page by default: show them all
        for attempt in range(5):  # the list may be redrawn under the click (a loaded machine)
            try:
                if page.get_by_role("option", name="50", exact=True).count() == 0:
                    pager.get_by_role("combobox").click()
                page.get_by_role("option", name="50", exact=True).click(timeout=5_000)
                break
            except Exception:
                if attempt == 4:
                    raise
        expect(page.get_by_role("option")).to_have_count(0)
    header = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    rows = []
    for row in table.locator("tbody tr").all():
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        rows.append(dict(zip(header, cells, strict=False)))
    return rows


def _kinds(notices: list[dict[str, str]]) -> set[str]:
    return {row["kind"] for row in notices}


def _wait(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the Prefect server never showed it")
        time.sleep(0.5)


def _contains(fragment: str) -> Any:
    import re

    return re.compile(".*" + re.escape(fragment) + ".*")
