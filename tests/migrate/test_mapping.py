"""The runtime Mapping: every file in plans/mappings compiles, with its columns, types and points pairs.

The file's own checks (FILE:LINE problems) are tested in tests/plan/test_mapping_file.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from migrate_support import MEMBERS_MAPPING

from cutover.migrate.mapping import load_mapping
from support import ROOT

MAPPINGS = sorted((ROOT / "plans" / "mappings").glob("*.yaml"))


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
