"""What real plans say (issue 16, item 5): durations per environment, steps that cannot be
undone, a system over two nights, manual checklist steps. Plan-level behaviour: models,
lint (`FILE:LINE`, did-you-mean, exit 2), timeline, `cutover show` and `cutover schema`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from cutover.plan import build_timeline, load_plan
from support import run_cli

PLAN = """\
name: Miles night
timezone: America/Chicago
starts_at: 2027-03-02T22:00:00-06:00
program: {legacy: miles-classic, target: miles-plus}
environments:
  staging:
    base_url: http://127.0.0.1:8700/systems/{system}
  production:
    base_url: https://ops.example.com/{system}
departments:
  - {id: ops, name: Operations, lead: Ann Lee, signoff_secret: OPS_SIGNOFF}
systems:
  - id: accrual
    department: ops
    steps:
      - {step: switch, expected: {staging: 5m, production: 40m}}
      - {step: http, id: warm, path: /warm, expected: 10m}
phases:
  - id: night
    starts: +0h
    systems: [accrual]
"""
# line 16: the switch step


def write(tmp_path: Path, text: str = PLAN) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def test_expected_per_environment_drives_the_timeline(tmp_path: Path) -> None:
    """Each environment's timeline uses its own `expected`; without one, production's."""
    plan = load_plan(write(tmp_path)).plan
    assert build_timeline(plan, env="staging").duration == timedelta(minutes=15)
    assert build_timeline(plan, env="production").duration == timedelta(minutes=50)
    assert build_timeline(plan).duration == timedelta(minutes=50)
    assert plan.systems[0].steps[0].planned("dev") == timedelta(minutes=40)
    shown = run_cli("show", str(write(tmp_path)), "--env", "staging", "--format", "json")
    data = json.loads(shown.out)
    assert data["plan"]["env"] == "staging"
    assert data["plan"]["duration_s"] == 15 * 60


def test_expected_naming_an_unknown_environment_is_refused_at_its_line(tmp_path: Path) -> None:
    """A typo in an environment of `expected` is a lint error with a did-you-mean, exit 2."""
    path = write(tmp_path, PLAN.replace("production: 40m", "prodution: 40m"))
    result = run_cli("validate", str(path))
    assert result.code == 2
    assert (
        f"{path}:16: step accrual · switch: `expected` names environment 'prodution', which is "
        "not in `environments` (production, staging); did you mean 'production'?"
    ) in result.out.splitlines()
    bad = write(tmp_path, PLAN.replace("staging: 5m", "staging: soon"))
    result = run_cli("validate", str(bad))
    assert result.code == 2
    assert f"{bad}:16: systems[0].steps[0].expected: staging: 'soon' is not a duration" in (
        result.out
    )


def test_lint_checks_every_environment_s_durations(tmp_path: Path) -> None:
    """A budget broken only with production's durations is refused, saying so."""
    text = PLAN.replace("      - {step: switch,", "      - {step: switch, degrades: [earn],") + (
        "features:\n  - id: earn\n    name: Earning miles\n    notice: {}\n"
        "budgets:\n  - {feature: earn, max_outage: 30m}\n"
    )
    path = write(tmp_path, text)
    result = run_cli("validate", str(path))
    assert result.code == 2
    assert "over its budget of 30m (with production's durations)" in result.out
    assert "staging's durations" not in result.out


def test_schema_offers_both_forms_of_expected() -> None:
    """`cutover schema`: `expected` is a duration or a map of environment -> duration."""
    schema = json.loads(run_cli("schema").out)
    forms = schema["$defs"]["SwitchStep"]["properties"]["expected"]["anyOf"]
    assert [f["type"] for f in forms] == ["string", "object"]


def test_undo_takes_none_or_for_http_a_path(tmp_path: Path) -> None:
    """`undo: none` is valid on any step; any other word is refused at its line, exit 2."""
    ok = write(tmp_path, PLAN.replace("expected: 10m}", "expected: 10m, undo: none}"))
    assert run_cli("validate", str(ok)).code == 0
    assert load_plan(ok).plan.systems[0].steps[1].irreversible
    bad = write(tmp_path, PLAN.replace("production: 40m}}", "production: 40m}, undo: never}"))
    result = run_cli("validate", str(bad))
    assert result.code == 2
    assert (
        f"{bad}:16: systems[0].steps[0].undo: 'never': `undo` takes only `none` (the step "
        "cannot be undone); a step kind's own undo needs no key"
    ) in result.out.splitlines()


TWO_NIGHTS = """\
name: Two nights
timezone: Europe/London
starts_at: 2027-03-02T22:00:00+00:00
program: {legacy: old, target: new}
environments:
  staging: {base_url: "http://127.0.0.1:8700/systems/{system}"}
departments:
  - {id: ops, name: Operations, lead: Ann Lee, signoff_secret: OPS_SIGNOFF}
systems:
  - id: ledger
    department: ops
    steps:
      - {step: http, id: copy, path: /copy, expected: 3h}
      - {step: freeze, mode: buffer-writes, expected: 5m, phase: night-two}
      - {step: switch, expected: 10m}
      - {step: unfreeze, expected: 5m}
  - id: app
    department: ops
    depends_on: [ledger]
    steps:
      - {step: switch, expected: 10m}
phases:
  - id: night-one
    starts: +0h
    systems: [ledger]
  - id: night-two
    starts: +24h
    systems: [ledger, app]
"""
# line 13: copy, 14: freeze (phase: night-two), 15 switch, 16 unfreeze; 25: night-one systems


def test_a_system_over_two_nights_runs_each_night_s_steps_in_it(tmp_path: Path) -> None:
    """`phase:` on a step moves it and the steps after it to that phase: the timeline
    places each step in its phase, `steps_in` gives the flow of each phase its steps,
    and the rollback takes the system back once, after what depends on it."""
    from cutover.plan.order import rollback_waves

    plan = load_plan(write(tmp_path, TWO_NIGHTS)).plan
    assert [s.key for s in plan.steps_in("ledger", "night-one")] == ["copy"]
    assert [s.key for s in plan.steps_in("ledger", "night-two")] == [
        "freeze",
        "switch",
        "unfreeze",
    ]
    timeline = build_timeline(plan)
    one, two = timeline.slots("ledger")
    assert (one.phase, [s.step for s in one.steps]) == ("night-one", ["copy"])
    assert two.phase == "night-two" and two.start == plan.starts_at + timedelta(hours=24)
    assert timeline.system("app").start == two.end  # same-phase dependency
    assert timeline.system("ledger").phase == "night-one, night-two"
    assert rollback_waves(plan) == [["app"], ["ledger"]]
    assert run_cli("show", str(write(tmp_path, TWO_NIGHTS))).code == 0


def test_lint_pairs_each_freeze_within_its_phase_and_checks_step_phases(tmp_path: Path) -> None:
    """A freeze left open across nights, an unknown or backward `phase:`, a phase listing the
    system with none of its steps: each refused at its line, with a did-you-mean, exit 2."""
    cases = [
        (
            TWO_NIGHTS.replace("5m, phase: night-two}", "5m}").replace(
                "{step: switch, expected: 10m}\n      - {step: unfreeze",
                "{step: switch, expected: 10m, phase: night-two}\n      - {step: unfreeze",
            ),
            14,
            "system 'ledger' is frozen in phase 'night-one' and not unfrozen before phase "
            "'night-two': pair every freeze with an unfreeze in its own phase (writes would be "
            "held between them)",
        ),
        (
            TWO_NIGHTS.replace("phase: night-two}", "phase: night-to}"),
            14,
            "step ledger · freeze: unknown phase 'night-to'; did you mean 'night-two'?",
        ),
        (
            TWO_NIGHTS.replace("expected: 3h}", "expected: 3h, phase: night-two}").replace(
                "mode: buffer-writes, expected: 5m, phase: night-two}",
                "mode: buffer-writes, expected: 5m, phase: night-one}",
            ),
            14,
            "step ledger · freeze goes back to phase 'night-one' after a later one: a "
            "system's steps run phase by phase, in the plan's order",
        ),
        (
            TWO_NIGHTS.replace("expected: 3h}", "expected: 3h, phase: night-two}"),
            25,
            "phase 'night-one' lists system 'ledger', but none of its steps runs in it: mark "
            "the first step of that phase `phase: night-one`",
        ),
    ]
    for text, line, message in cases:
        path = write(tmp_path, text)
        result = run_cli("validate", str(path))
        assert result.code == 2, result.output
        assert f"{path}:{line}: {message}" in result.out.splitlines(), result.out


MANUAL = """\
      - step: manual
        id: kiosks
        expected: 20m
        checklist: [DEN kiosks show the new program]
"""


def test_a_manual_step_names_a_department_that_can_sign(tmp_path: Path) -> None:
    """`step: manual`: a checklist is required; its department must exist (did-you-mean) and
    name a sign-off secret; `cutover schema` describes the kind."""
    text = PLAN.replace(
        "  - {id: ops,", "  - {id: airports, name: Airports, lead: Sam Roy}\n  - {id: ops,"
    ).replace("      - {step: http, id: warm", MANUAL + "      - {step: http, id: warm")
    ok = write(tmp_path, text)
    assert run_cli("validate", str(ok)).code == 0
    typo = write(
        tmp_path, text.replace("id: kiosks\n", "id: kiosks\n        department: airport\n")
    )
    result = run_cli("validate", str(typo))
    assert result.code == 2
    assert "step accrual · kiosks: unknown department 'airport'; did you mean 'airports'?" in (
        result.out
    )
    unsigned = write(
        tmp_path, text.replace("id: kiosks\n", "id: kiosks\n        department: airports\n")
    )
    result = run_cli("validate", str(unsigned))
    assert result.code == 2
    assert "is confirmed by department 'airports', which names no `signoff_secret`" in result.out
    schema = json.loads(run_cli("schema").out)
    assert "checklist" in schema["$defs"]["ManualStep"]["required"]
