"""Mapping files: every file in plans/mappings loads, and bad ones fail with FILE:LINE problems."""

from __future__ import annotations

from pathlib import Path

import pytest
from migrate_support import MEMBERS_MAPPING

from cutover.errors import PlanError
from cutover.migrate.mapping import load_mapping
from support import ROOT

MAPPINGS = sorted((ROOT / "plans" / "mappings").glob("*.yaml"))

GOOD = """\
source:
  table: members
  key: member_id
  columns: {member_id: integer, email: text, points_cents: integer}
target: {table: members, key: member_id}
fields:
  member_id: member_id
  email: {from: email, transform: lower}
  points: {from: points_cents, points: whole}
  remainder_cents: {from: points_cents, points: remainder}
"""


@pytest.mark.parametrize("path", MAPPINGS, ids=[p.name for p in MAPPINGS])
def test_every_mapping_in_the_repository_loads(path: Path) -> None:
    """Each plans/mappings/*.yaml is a valid mapping, and the rewards plans reference real files."""
    mapping = load_mapping(path)
    assert mapping.target.key in mapping.target_columns
    for pair in mapping.points_pairs:
        assert {pair.whole, pair.remainder} <= set(mapping.target_columns)


def test_the_members_mapping_is_the_reward_tiers_conversion() -> None:
    """members.yaml produces docs/loyalty-data.md's reward-tiers columns, carrying the remainder."""
    mapping = load_mapping(MEMBERS_MAPPING)
    assert mapping.target_columns == [
        "member_id", "email", "status", "tier", "points", "remainder_cents", "lifetime_cents", "updated_at",
    ]  # fmt: skip
    assert mapping.rounding == "floor"
    assert [(p.source, p.whole, p.remainder) for p in mapping.points_pairs] == [
        ("points_cents", "points", "remainder_cents")
    ]
    assert mapping.sql_capable


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PlanError) as caught:
        load_mapping(path)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("edit", "line", "fragment"),
    [
        (("points_cents, points: whole}", "points_cents, points: hole}"), 9, "points"),
        (
            ("  email: {from: email, transform: lower}", "  email: {from: mail}"),
            8,
            "'mail' is not in source.columns",
        ),
        (
            ("  remainder_cents: {from: points_cents, points: remainder}\n", ""),
            9,
            "remainder is missing",
        ),
        (
            ("key: member_id\n  columns", "key: id\n  columns"),
            3,
            "source.key 'id' is not in source.columns",
        ),
        (
            ("  member_id: member_id", "  member_id: {from: member_id, transform: lower}"),
            7,
            "target key",
        ),
        (("transform: lower}", "transform: lower, colour: red}"), 8, "unknown key"),
        (("email: text", "email: txt"), 4, "email"),
        (
            ("  email: {from: email, transform: lower}", "  email: {from: email, pattern: '(('}"),
            8,
            "invalid pattern",
        ),
        (
            (
                "  email: {from: email, transform: lower}",
                "  email: {from: points_cents, transform: lower}",
            ),
            8,
            "transforms apply to text",
        ),
        (
            ("  email: {from: email, transform: lower}", "  email: {from: email, rule: tier}"),
            8,
            "needs an integer",
        ),
        (
            ("target: {", "  operation: {column: email}\ntarget: {"),
            5,
            "'email' is a source column",
        ),
        (
            ("target: {", "  operation: {column: op, delete: [D, U]}\ntarget: {"),
            5,
            "'U' cannot both delete and upsert",
        ),
    ],
)
def test_bad_mappings_name_the_line(
    tmp_path: Path, edit: tuple[str, str], line: int, fragment: str
) -> None:
    """A mistake in a mapping is reported as FILE:LINE: message, at the line that holds it."""
    old, new = edit
    assert old in GOOD
    problems = _problems(tmp_path, GOOD.replace(old, new))
    assert any(
        p.startswith(f"{tmp_path / 'bad.yaml'}:{line}:") and fragment in p for p in problems
    ), problems


def test_a_mapping_that_is_not_yaml_or_not_a_mapping(tmp_path: Path) -> None:
    """Broken YAML, an empty file and a list are each one clear problem."""
    assert "invalid YAML" in _problems(tmp_path, "source: [unclosed\n")[0]
    assert "empty" in _problems(tmp_path, "")[0]
    assert "a mapping of keys" in _problems(tmp_path, "- a\n- b\n")[0]


def test_identity_mapping_copies_every_column(tmp_path: Path) -> None:
    """Without `fields`, every source column is copied unchanged (types kept)."""
    path = tmp_path / "plain.yaml"
    path.write_text(
        "source: {table: consents, key: consent_id, columns: {consent_id: integer, channel: text}}\n"
        "target: {table: consents, key: consent_id}\n"
    )
    mapping = load_mapping(path)
    assert mapping.target_columns == ["consent_id", "channel"]
    assert mapping.output_types == {"consent_id": "integer", "channel": "text"}
