"""A run waits instead of starting a freeze inside a window to avoid: on the run's clock
(a compressed drill waits in plan time), journaled as a decision row and on the board.

The plan starts on a Monday at 05:00 (Paris), inside staging's `Mon-Fri 04:00-05:20`;
a drill's clock pins `starts_at` to the moment the run opens, which is inside the
call, so the cut starts 20 plan-minutes later, whatever the machine's speed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cutover.engine.board import hold_rows
from cutover.engine.context import RunContext
from cutover.engine.request import RunRequest
from cutover.engine.windows import wait_outside_windows

PLAN = """\
name: A window on the night
timezone: Europe/Paris
starts_at: 2027-03-01T05:00:00+01:00
program: {legacy: old, target: new}
environments:
  staging:
    simulated: true
    base_url: http://127.0.0.1:8700/systems/{system}
    avoid: ["Mon-Fri 04:00-05:20"]
departments:
  - {id: ops, name: Operations, lead: Ann}
systems:
  - id: core
    department: ops
    steps:
      - {step: verify, checks: [system], expected: 5m}
      - {step: freeze, mode: buffer-writes, expected: 5m}
      - {step: switch, expected: 5m}
      - {step: unfreeze, expected: 5m}
phases:
  - {id: one, starts: +0h, systems: [core]}
"""


def context(tmp_path: Path, run_key: str = "windows") -> RunContext:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    return RunContext.load(
        RunRequest(
            plan_path=str(plan),
            env="staging",
            run_key=run_key,
            journal=str(tmp_path / "journal.db"),
            workdir=str(tmp_path / "run"),
            scale=6000.0,  # 20 plan-minutes: 0.2 s
            auto_approve=True,
        )
    )


def test_a_cut_waits_for_the_window_to_end_journaled_and_on_the_board(tmp_path: Path) -> None:
    """The cut (freeze → unfreeze) would start at 05:00, inside the window: the call returns
    once plan time is past 05:20, with a `waiting` row (on the board while it waits) and a
    `ready` row after it; the timeline planned the same push."""
    ctx = context(tmp_path)
    steps = ctx.plan.steps_in("core", "one")
    wait_outside_windows(ctx, "core", steps[:1])  # not a cut: nothing to wait for
    assert ctx.journal.decisions(ctx.run_key) == []
    wait_outside_windows(ctx, "core", steps[1:])
    window_end = datetime(2027, 3, 1, 5, 20, tzinfo=ZoneInfo("Europe/Paris"))
    assert ctx.clock().now() >= window_end
    waiting, ready = ctx.journal.decisions(ctx.run_key)
    assert (waiting.gate, waiting.department, waiting.decision) == ("avoid-core", "ops", "waiting")
    assert waiting.comment == "waiting: no freeze during Mon-Fri 04:00-05:20 (until 05:20)"
    assert ready.decision == "ready"
    [row] = hold_rows(ctx.plan, ctx.timeline, [waiting])
    assert (row.department, row.system, row.step, row.state) == ("ops", "core", "freeze", "waiting")
    assert row.note == waiting.comment
    assert hold_rows(ctx.plan, ctx.timeline, [waiting, ready]) == []
    assert ctx.timeline.step("core", "freeze").start == window_end


def test_a_cut_already_begun_never_waits(tmp_path: Path) -> None:
    """A resumed run whose journal has the freeze started goes on at once: writes may be held."""
    ctx = context(tmp_path, "resumed")
    ctx.clock()
    ctx.journal.begin(ctx.run_key, "core", "freeze")
    wait_outside_windows(ctx, "core", ctx.plan.steps_in("core", "one")[1:])
    assert ctx.journal.decisions(ctx.run_key) == []
