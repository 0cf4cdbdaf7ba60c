"""Windows to avoid (`avoid: ["Mon-Fri 05:00-09:00"]`): parsing, the timeline's push, lint.

PLAN starts on a Monday at 04:45 (Paris); `core`'s cut (freeze → unfreeze, 35m) would
run into the 05:00–09:00 window, so the timeline starts it at 09:00, and `shop`, which
depends on it, after it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cutover.plan import build_timeline, load_plan
from cutover.plan.windows import earliest_start, parse_window
from support import run_cli

PARIS = ZoneInfo("Europe/Paris")

PLAN = """\
name: Windows to avoid
timezone: Europe/Paris
starts_at: 2027-03-01T04:45:00+01:00
program: {legacy: old, target: new}
environments:
  staging:
    base_url: http://127.0.0.1:8700/systems/{system}
  production:
    base_url: https://{system}.example.com
    avoid: ["daily 09:00-09:30"]
departments:
  - {id: ops, name: Operations, lead: Ann}
systems:
  - id: core
    department: ops
    avoid: ["Mon-Fri 05:00-09:00"]
    steps:
      - {step: freeze, mode: buffer-writes, expected: 10m}
      - {step: verify, expected: 20m}
      - {step: unfreeze, expected: 5m}
  - id: shop
    department: ops
    depends_on: [core]
    steps:
      - {step: switch, expected: 15m}
phases:
  - {id: one, starts: +0h, systems: [core, shop]}
  - {id: two, starts: +6h, systems: [late]}
  - {id: three, starts: +9h, systems: [tail]}
"""
# lines: 10 production's avoid, 16 core's avoid, 18 core's freeze, 29 phase two
TAIL = """\
  - id: late
    department: ops
    steps:
      - {step: switch, expected: 5m}
  - id: tail
    department: ops
    steps:
      - {step: switch, expected: 5m}
"""


def write(tmp_path: Path, text: str = PLAN) -> Path:
    text = text.replace("phases:\n", TAIL + "phases:\n")
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 3, day, hour, minute, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("text", "days", "hours"),
    [
        ("Mon-Fri 05:00-09:00", {0, 1, 2, 3, 4}, (5, 9)),
        ("Sat 22:00-02:00", {5}, (22, 2)),
        ("daily 05:00-09:00", set(range(7)), (5, 9)),
        ("Fri-Mon 23:00-24:00", {4, 5, 6, 0}, (23, 0)),
        ("mon,Wed-thu 05:00 - 09:00", {0, 2, 3}, (5, 9)),
        ("Sunday 1:30-03:00", {6}, (1, 3)),
    ],
)
def test_windows_parse_days_and_local_times(text: str, days: set[int], hours: tuple) -> None:  # type: ignore[type-arg]
    """Days (daily, a day, a range that may wrap the week, a comma list), then start-end."""
    window = parse_window(text)
    assert window.days == frozenset(days)
    assert (window.start.hour, window.end.hour) == hours


def test_a_window_across_midnight_ends_the_next_day() -> None:
    """`Sat 22:00-02:00` holds Sunday 01:00 and not Saturday 01:00; a cut pushed by it
    starts Sunday 02:00."""
    window = parse_window("Sat 22:00-02:00")
    start, clashes = earliest_start(at(7, 1), timedelta(minutes=30), [window], PARIS) or (None, [])
    assert start == at(7, 2) and len(clashes) == 1  # Sunday 7 March
    assert earliest_start(at(6, 1), timedelta(minutes=30), [window], PARIS) == (at(6, 1), [])
    # running into it by its duration counts as touching it
    start, _ = earliest_start(at(6, 21, 45), timedelta(minutes=30), [window], PARIS) or (None, [])
    assert start == at(7, 2)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Mon-Fry 05:00-09:00", "unknown day 'fry'"),
        ("05:00-09:00", "it needs days, then a start and an end time"),
        ("Mon 5-9", "'5' is not a time (HH:MM, 24-hour)"),
        ("daily 25:00-09:00", "'25:00' is not a time of day"),
        ("daily 05:00-05:00", "no time at all"),
    ],
)
def test_bad_window_text_says_what_and_gives_an_example(text: str, says: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_window(text)
    message = str(raised.value)
    assert says in message
    assert "write it like 'Mon-Fri 05:00-09:00', 'Sat 22:00-02:00'" in message


def test_the_timeline_pushes_a_cut_to_the_windows_end_and_what_depends_on_it(
    tmp_path: Path,
) -> None:
    """core's cut would run 04:45–05:20, into Mon-Fri 05:00-09:00: it starts at 09:00 and
    shop (depending on it) at 09:35; with production's window too, at 09:30."""
    plan = load_plan(write(tmp_path)).plan
    plain = build_timeline(plan, env="staging", avoid=False)
    assert plain.step("core", "freeze").start == at(1, 4, 45)
    timeline = build_timeline(plan, env="staging")
    freeze = timeline.step("core", "freeze")
    assert freeze.start == at(1, 9)
    assert freeze.push is not None
    assert (freeze.push.window, freeze.push.planned) == ("Mon-Fri 05:00-09:00", at(1, 4, 45))
    assert freeze.push.where == ("systems", 0, "avoid", 0)
    assert timeline.step("core", "unfreeze").end == at(1, 9, 35)
    assert timeline.system("shop").start == at(1, 9, 35)
    assert timeline.pushes == [freeze]
    production = build_timeline(plan, env="production")
    assert production.step("core", "freeze").start == at(1, 9, 30)  # and then its own window
    assert build_timeline(plan).step("core", "freeze").start == at(1, 9, 30)  # production's


def test_show_shows_the_push(tmp_path: Path) -> None:
    path = write(tmp_path)
    shown = run_cli("show", str(path), "--env", "staging", "--format", "json")
    assert shown.code == 0, shown.output
    data = json.loads(shown.out)
    core = next(s for d in data["departments"] for s in d["systems"] if s["id"] == "core")
    freeze = core["steps"][0]
    assert freeze["pushed"] == {
        "from": "2027-03-01T04:45:00+01:00",
        "to": "2027-03-01T09:00:00+01:00",
        "window": "Mon-Fri 05:00-09:00",
    }
    text = run_cli("show", str(path), "--env", "staging")
    assert "core · freeze pushed Mon 04:45 → Mon 09:00: avoids Mon-Fri 05:00-09:00" in " ".join(
        text.out.split()
    )


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            'avoid: ["Mon-Fri 05:00-09:00"]',
            'avoid: ["Mon-Fri 05:00-09:00", "Mon-Fry 10:00-11:00"]',
            16,
            "systems[0].avoid[1]: 'Mon-Fry 10:00-11:00' is not a window to avoid: unknown day",
        ),
        (
            'avoid: ["Mon-Fri 05:00-09:00"]',
            "avoids: [Mon-Fri 05:00-09:00]",
            16,
            "systems[0].avoids: unknown key; did you mean 'avoid'?",
        ),
        (
            'avoid: ["Mon-Fri 05:00-09:00"]',
            'avoid: ["daily 00:00-12:00", "daily 12:30-24:00"]',
            18,
            "core · freeze: its cut (freeze → unfreeze, 35m) cannot avoid 'daily 00:00-12:00': "
            "no gap between the windows to avoid is that long",
        ),
        (
            "starts: +6h",
            "starts: +4h",
            16,
            "avoiding 'Mon-Fri 05:00-09:00' pushes core's cut from Mon 04:45 to Mon 09:00, so "
            "phase 'one' ends at Mon 09:50, after phase 'two' is due (+4h, Mon 08:45)",
        ),
    ],
)
def test_lint_refuses_a_plan_that_cannot_avoid_its_windows(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    """Bad text, an unknown key, a cut longer than every gap, a push breaking the next
    phase: each is `FILE:LINE: message`, exit 2."""
    assert old in PLAN
    path = write(tmp_path, PLAN.replace(old, new, 1))
    result = run_cli("validate", str(path))
    assert result.code == 2, result.output
    assert f"{path}:{line}: {message}" in result.output, result.output


def test_a_plan_that_avoids_its_windows_validates(tmp_path: Path) -> None:
    result = run_cli("validate", str(write(tmp_path)))
    assert result.code == 0, result.output


def test_schema_covers_avoid() -> None:
    """`cutover schema`: `avoid` on systems and environments, a list of window texts."""
    schema = json.loads(run_cli("schema").out)
    for model in ("System", "Environment"):
        avoid = schema["$defs"][model]["properties"]["avoid"]
        assert avoid["items"]["type"] == "string"
        assert "Mon-Fri 05:00-09:00" in avoid["items"]["examples"]
