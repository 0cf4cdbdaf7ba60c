"""`cutover show --format html`: the printable runbook, as a document (the browser test renders it)."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

from cutover.plan import build_timeline, load_plan
from cutover.plan.runbook import timeline_html
from support import PLANS, run_cli


class Sections(HTMLParser):
    """Each section's id and its table cells' text, and any tag that fetches something."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, list[str]] = {}
        self.fetches: list[str] = []
        self._section = ""
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "section":
            self._section = named.get("id") or ""
            self.cells[self._section] = []
        if tag in ("td", "th"):
            self._cell = []
        if tag in ("script", "img", "link", "iframe") or named.get("src"):
            self.fetches.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._section:
            self.cells[self._section].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _read(html: str) -> Sections:
    parser = Sections()
    parser.feed(html)
    return parser


def test_the_runbook_has_phases_swimlanes_gates_and_customer_windows() -> None:
    plan = load_plan(PLANS / "rewards-tiers.yaml").plan
    timeline = build_timeline(plan)
    page = _read(timeline_html(plan, timeline))
    assert list(page.cells) == ["phases", "swimlanes", "gates", "customers"]
    assert page.fetches == []  # self-contained: prints and opens offline
    for phase in plan.phases:
        assert phase.id in page.cells["phases"]
    for department in plan.departments:
        if any(s.department == department.id for s in plan.systems):
            assert any(c.startswith(department.name) for c in page.cells["swimlanes"])
    first = plan.phases[0]
    assert first.gate is not None
    lead = {d.id: d for d in plan.departments}[first.gate.approvers[0]]
    assert any(f"{lead.name}: {lead.lead}" in c for c in page.cells["gates"])
    feature = next(f for f in timeline.features if f.windows)
    name = next(f.name for f in plan.features if f.id == feature.feature)
    assert name in page.cells["customers"]


def test_plan_text_is_escaped(tmp_path: Path) -> None:
    text = (PLANS / "demo.yaml").read_text()
    plan_file = tmp_path / "demo.yaml"
    for sub in ("mappings", "carry-back"):
        shutil.copytree(PLANS / sub, tmp_path / sub)
    name = "name: Reward tiers — demo cutover"
    assert name in text
    plan_file.write_text(text.replace(name, 'name: "Tiers <b>bold</b> & co"', 1))
    done = run_cli("show", str(plan_file), "--format", "html")
    assert done.code == 0, done.output
    assert "Tiers &lt;b&gt;bold&lt;/b&gt; &amp; co" in done.out and "<b>bold" not in done.out
