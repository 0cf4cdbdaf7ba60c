"""What the browser tests do alike in the Prefect UI."""

from __future__ import annotations

from typing import Any


def open_resume_form(page: Any) -> Any:
    """On a paused run's page: the **Resume** dialog, as a lead opens it (menu, Resume)."""
    from playwright.sync_api import expect

    expect(page.get_by_text("Paused").first).to_be_visible()
    page.get_by_role("button", name="Open menu").click()
    page.get_by_role("menuitem", name="Resume").click()
    return page.get_by_role("dialog")
