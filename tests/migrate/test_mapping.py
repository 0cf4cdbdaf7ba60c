"""The runtime Mapping: every file in plans/mappings compiles, with its columns, types and points pairs.

The file's own checks (FILE:LINE problems) are tested in tests/plan/test_mapping_file.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from migrate_support import MEMBERS_MAPPING, write_plan

from cutover import migrate
from cutover.migrate.carry import discard, install_reverse
from cutover.migrate.mapping import Mapping, as_mapping, load_mapping
from cutover.plan import load_plan
from cutover.plan.carry_back import CarryBack
from cutover.plan.mapping import load_mapping_file
from cutover.plan.models import MigrateStep, Store
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


def test_every_form_of_the_mapping_compiles_to_the_same_mapping() -> None:
    """A loaded file, a path and a compiled Mapping give one name (the job id's), path and spec."""
    loaded = load_mapping_file(MEMBERS_MAPPING)
    compiled = as_mapping(loaded)
    assert isinstance(compiled, Mapping)
    assert compiled.spec is loaded.spec  # the plan's object travels, nothing is parsed again
    by_path = as_mapping(MEMBERS_MAPPING)
    assert (
        (compiled.name, compiled.path)
        == (by_path.name, by_path.path)
        == ("members", str(MEMBERS_MAPPING))
    )
    assert compiled.spec == by_path.spec
    assert as_mapping(compiled) is compiled


def test_the_data_plane_takes_the_plans_loaded_objects(
    sqlite_pair: tuple[Store, Store], tmp_path: Path
) -> None:
    """Copy, verify, status, capture and discard all run from what load_plan loaded, not paths."""
    source, target = sqlite_pair
    loaded = load_plan(write_plan(tmp_path, source, target))
    step = next(s for s in loaded.plan.systems[0].steps if isinstance(s, MigrateStep))
    mapping = loaded.mapping(step)
    report = migrate.run_copy(source, target, mapping)
    assert report.rows == 3_000
    assert migrate.verify(source, target, mapping).ok
    assert migrate.status(source, target, MEMBERS_MAPPING).job == report.job  # same job by path
    assert migrate.capture_status(source, mapping).installed
    back = CarryBack.model_validate(
        {"tables": [{"table": "members", "key": "member_id", "to": "members", "columns": "same"}]}
    )
    assert install_reverse(target, back) == ["members"]
    moved = discard(target, source, mapping, back)["moved_aside"]
    assert len(moved) == 1 and not migrate.capture_status(source, mapping).installed
