"""The live view's model and drawing, from a real journal file: phases, systems, gates, events."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from cutover.cli.live import HEIGHT, WIDTH, Follower, render
from cutover.clock import RunClock
from cutover.engine.events import EventFeed
from cutover.engine.progress import Traffic, progress
from cutover.journal import Journal
from cutover.plan import build_timeline, load_plan
from support import PLANS

DEMO = PLANS / "demo.yaml"


def _drawn(renderable: object, width: int = WIDTH) -> list[str]:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(renderable)
    return console.export_text().rstrip("\n").splitlines()


def _core_done(journal: Journal, key: str) -> None:
    """loyalty-core's five steps, as the run journals them; its unfreeze measured a pause."""
    journal.decide(key, "gate-prepare", "loyalty-platform", "approve", "Priya Natarajan")
    for step in ("migrate", "freeze", "verify", "switch", "unfreeze"):
        journal.begin(key, "loyalty-core", step)
        detail = {"write_pause_s": 0.42} if step == "unfreeze" else {}
        journal.finish(key, "loyalty-core", step, "done", detail)


def test_the_model_reads_phases_systems_gates_and_the_longest_pause(tmp_path: Path) -> None:
    """Phase 1 done, phase 2's gate half signed and held: the view names who is due (department
    and lead) and who holds it with the reason; a step under way is a system running now."""
    plan = load_plan(DEMO).plan
    timeline = build_timeline(plan, env="staging")
    journal = Journal(tmp_path / "journal.db")
    _core_done(journal, "r1")
    journal.decide("r1", "gate-fronts", "digital", "hold", "Hana Sato", "app store review pending")
    now = progress(plan, timeline, "r1", journal.history("r1"), journal.decisions("r1"))
    assert [(p.id, p.state) for p in now.phases] == [
        ("prepare", "done"),
        ("fronts", "waiting at gate"),
        ("downstream", "planned"),
    ]
    gate = next(g for g in now.gates if g.gate == "gate-fronts")
    assert gate.state == "held"
    assert {str(s) for s in gate.due} == {
        "Store Technology — Marcus Webb",
        "Digital & Mobile — Hana Sato",
    }
    (signer, who, why) = gate.holding[0]
    assert (signer.name, who, why) == ("Digital & Mobile", "Hana Sato", "app store review pending")
    assert (now.longest_pause_s, now.longest_pause_system) == (0.42, "loyalty-core")
    assert now.state == "waiting at gate" and (now.steps_done, now.steps) == (5, 13)

    journal.decide("r1", "gate-fronts", "digital", "approve", "Hana Sato")
    journal.decide("r1", "gate-fronts", "store-tech", "approve", "Marcus Webb")
    journal.begin("r1", "pos-stores", "freeze")
    journal.begin("r1", "mobile-app", "freeze")
    journal.finish("r1", "mobile-app", "freeze", "failed", {"error": "503 from mobile-app"})
    now = progress(plan, timeline, "r1", journal.history("r1"), journal.decisions("r1"))
    assert [(s.system, s.step) for s in now.running] == [("pos-stores", "freeze")]
    assert [(s.system, s.note) for s in now.failed] == [("mobile-app", "503 from mobile-app")]
    assert now.phases[1].state == "failed" and now.gates == ()
    assert json.loads(json.dumps(now.as_dict()))["state"] == "failed"


def test_the_view_shows_each_part_and_fits_160_by_45(tmp_path: Path) -> None:
    """The seed plan of 29 systems with every system of a phase running: still 160x45."""
    loaded = load_plan(PLANS / "rewards-tiers.yaml")
    plan = loaded.plan
    timeline = build_timeline(plan, env="staging")
    journal = Journal(tmp_path / "journal.db")
    for phase in timeline.phases[:4]:
        for slot in phase.systems:
            journal.begin("big", slot.system, slot.steps[0].step)
    traffic = Traffic(sent=12_000, acknowledged=11_990, refused=0, unanswered=1, tx_per_s=300.0)
    now = progress(
        plan,
        timeline,
        "big",
        journal.history("big"),
        journal.decisions("big"),
        notices=12,
        traffic=traffic,
    )
    links = [("run", "http://127.0.0.1:4200/v2/runs/flow-run/" + "0" * 36)]
    lines = _drawn(render(now, title="cutover run", log_path=tmp_path / "cutover.log", links=links))
    text = "\n".join(lines)
    assert len(lines) <= HEIGHT and max(len(line) for line in lines) <= WIDTH, text
    for part in ("Phases", "Running now", "more systems", "longest write pause", "notices sent 12"):
        assert part in text, part
    assert "300 tx/s" in text and "refused 0" in text and "unanswered 1" in text
    assert "/v2/runs/flow-run/" in text and "cutover.log" in text


def test_the_event_feed_gives_each_journal_row_once_in_order(tmp_path: Path) -> None:
    """Steps, the pause, gate answers and phases as JSON events; nothing repeated on the next read."""
    loaded = load_plan(DEMO)
    timeline = build_timeline(loaded.plan, env="staging")
    journal = Journal(tmp_path / "journal.db")
    outbox = tmp_path / "notices-outbox.jsonl"
    outbox.write_text(json.dumps({"key": "k1", "feature": "f", "kind": "advance"}) + "\n")
    follower = Follower(str(tmp_path / "journal.db"), "r2", loaded.plan, timeline, outbox)
    starting, first = follower.poll()  # the flow has not begun: no gate waits yet
    assert starting.state == "starting" and [e["event"] for e in first] == ["notice.sent"]
    journal.open_run("r2", loaded.plan.name, "staging", RunClock.production(timeline.starts_at))
    _, first = follower.poll()
    assert [e["event"] for e in first] == ["gate.waiting"]
    assert first[0]["due"][0]["lead"] == "Priya Natarajan"
    _core_done(journal, "r2")
    _, events = follower.poll()
    names = [e["event"] for e in events]
    assert names[:3] == ["gate.signed", "phase.started", "step.started"]
    assert names.count("step.done") == 5 and "pause" in names
    assert names[-2:] == ["phase.done", "gate.waiting"]
    assert all(json.loads(json.dumps(e)) == e for e in events)
    assert follower.poll()[1] == []


def test_a_reader_before_the_run_sees_it_starting(tmp_path: Path) -> None:
    """No journal yet (the run starts a moment later): the view says `starting`, no error,
    and no gate waits (a demo that signs its own gates seemed to wait for a person); once
    the run is open, its first gate waits."""
    loaded = load_plan(DEMO)
    timeline = build_timeline(loaded.plan, env="staging")
    follower = Follower(str(tmp_path / "none.db"), "r3", loaded.plan, timeline)
    now, events = follower.poll()
    assert now.steps_done == 0 and not (tmp_path / "none.db").exists()
    assert now.state == "starting" and events == []
    assert [p.state for p in now.phases] == ["planned"] * 3
    opened = progress(loaded.plan, timeline, "r3", [], [])
    assert EventFeed("r3").events([], [], opened) == [
        {
            "event": "gate.waiting",
            "run_key": "r3",
            "phase": "prepare",
            "due": [
                {
                    "department": "loyalty-platform",
                    "name": "Loyalty Platform",
                    "lead": "Priya Natarajan",
                }
            ],
        }
    ]
