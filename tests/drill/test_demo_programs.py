"""The programs a finished rehearsal reports: only systems the plan switches count."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cutover.control.client import ControlClient
from cutover.drill.demo import programs_served
from cutover.drill.result import describe_programs, switched_systems
from cutover.plan import load_plan
from cutover.sim import RunningEstate, running_estate
from support import PLANS

REWARDS = PLANS / "rewards-tiers.yaml"
TOKEN = "programs-test-token"


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[RunningEstate]:
    with running_estate(REWARDS, "staging", workdir=tmp_path, token=TOKEN) as running:
        yield running


def test_after_a_good_night_every_switched_system_serves_the_target(
    estate: RunningEstate,
) -> None:
    """catalog-tiers and event-streams have no switch: they are not read as "still legacy"."""
    plan = load_plan(REWARDS).plan
    switched = [s.id for s in switched_systems(plan)]
    assert {"catalog-tiers", "event-streams"}.isdisjoint(switched)
    for system_id in switched:  # what every switch step of a completed run leaves behind
        with ControlClient(estate.system_url(system_id), system=system_id, token=TOKEN) as c:
            c.switch(plan.program.target, key=f"test:{system_id}:switch")

    served = programs_served(plan, estate, TOKEN)

    assert sorted(served) == sorted(switched)
    assert describe_programs(served, plan.program.names) == (
        f"Reward Tiers (reward-tiers), all {len(switched)} systems the plan switches"
    )


def test_a_split_estate_names_the_systems_on_each_program() -> None:
    """Half switched is worth reading: each program with the systems serving it."""
    served = {"pos": "new", "app": "new", "web": "new", "crm": "new", "ivr": "new", "core": "old"}
    assert describe_programs(served) == "new: app, crm, ivr, pos and 1 more; old: core"
    assert describe_programs({}) == "none: the plan switches no system"
