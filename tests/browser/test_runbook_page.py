"""The printable runbook (`cutover show --format html`) in a real browser, at a laptop's size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support import PLANS, run_cli


def test_the_runbook_reads_at_1366_wide_with_no_sideways_scroll(
    chromium: Any, tmp_path: Path, screenshots: Path
) -> None:
    """Every section is there, in order; nothing is wider than the window; it prints."""
    done = run_cli("show", str(PLANS / "rewards-tiers.yaml"), "--format", "html")
    assert done.code == 0, done.output
    page_file = tmp_path / "runbook.html"
    page_file.write_text(done.out, encoding="utf-8")
    page = chromium.new_page(viewport={"width": 1366, "height": 768})
    try:
        page.goto(page_file.as_uri())
        headings = page.locator("h2").all_inner_texts()
        assert [h.split(":")[0] for h in headings] == [
            "Phases",
            "Swimlanes",
            "Go/no-go gates",
            "What customers lose, and when",
        ]
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1366, f"the page is {width}px wide: a sideways scroll"
        assert page.locator("#gates td", has_text="Priya Natarajan").count() >= 1
        page.screenshot(path=str(screenshots / "runbook.png"), full_page=True)
        pdf = page.pdf(format="A4", landscape=True)
        assert pdf.startswith(b"%PDF")
    finally:
        page.close()
