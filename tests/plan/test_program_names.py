"""Program names: `program.names` gives versions the names customers know; `{program}` shows them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_bad_plans import BASE, write

from cutover.notices import derive, render_all
from cutover.notices.render import DEFAULT_TEXT, program_name
from cutover.plan import build_timeline, load_plan
from support import PLANS, run_cli


def test_program_placeholder_renders_the_name_customers_know() -> None:
    """The demo plan's restored text says "now with {program}": customers read the name."""
    plan = load_plan(PLANS / "demo.yaml").plan
    restored = [
        r.text
        for r in render_all(plan, derive(plan, build_timeline(plan)))
        if r.event.kind == "restored" and r.event.feature == "redeem-rewards"
    ]
    assert restored and all(text.endswith("now with Reward Tiers.") for text in restored)
    assert program_name(plan, "started") == "Reward Tiers"
    assert program_name(plan, "rolled_back") == "Stars Classic"  # back on the one they know


def test_a_program_without_a_name_is_shown_as_its_id() -> None:
    """The old form (`legacy:` and `target:` only) stays valid and renders the version id."""
    plan = load_plan(PLANS / "platform-migration.yaml").plan
    assert plan.program.names == {}
    assert program_name(plan, "advance") == "insider-platform"


def test_default_texts_speak_of_no_program_points_or_rewards() -> None:
    """A plan of any business may lean on the defaults: they promise nothing about points."""
    for kind, text in DEFAULT_TEXT.items():
        lowered = text.lower()
        assert "point" not in lowered and "reward" not in lowered, kind
        assert "{program}" not in text, kind


def test_schema_covers_program_names() -> None:
    """`cutover schema` lets an editor complete and check `program.names`."""
    schema = json.loads(run_cli("schema").out)
    names = schema["$defs"]["Program"]["properties"]["names"]
    assert names["type"] == "object"
    assert names["additionalProperties"] == {"type": "string", "minLength": 1}


@pytest.mark.parametrize(
    ("program", "message"),
    [
        (
            "{legacy: old, target: new, names: {olde: Old Ways}}",
            "program.names names 'olde', which no system serves (not program.legacy, "
            "program.target or a switch's version); did you mean 'old'?",
        ),
        (
            "{legacy: old, target: new, names: {new: ''}}",
            "program.names.new: String should have at least 1 character",
        ),
        (
            "{legacy: old, target: new, names: {new: The `shop` club}}",
            "customer text names internal system 'shop'; say what the customer can or cannot "
            "do instead, or, if 'shop' is the customers' own word, give the system another id",
        ),
    ],
)
def test_bad_program_names_are_refused_at_their_line(
    tmp_path: Path, program: str, message: str
) -> None:
    """Each one line, `FILE:LINE: message`, exit 2."""
    path = write(
        tmp_path, BASE.replace("program: {legacy: old, target: new}", f"program: {program}")
    )
    result = run_cli("validate", str(path))
    assert result.code == 2
    assert result.out.splitlines() == [f"{path}:4: {message}"]


def test_names_of_every_version_the_plan_serves_are_accepted(tmp_path: Path) -> None:
    """legacy, target, and a switch's own version may each have a name."""
    text = BASE.replace(
        "program: {legacy: old, target: new}",
        "program: {legacy: old, target: new, names: {old: Classic, new: Plus, beta: Plus Beta}}",
    ).replace("{step: switch, expected: 15m}", "{step: switch, version: beta, expected: 15m}")
    result = run_cli("validate", str(write(tmp_path, text)))
    assert result.code == 0, result.output
