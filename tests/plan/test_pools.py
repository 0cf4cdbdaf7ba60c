"""Work-pool placement in the plan: which pool reaches which system, refused when it cannot be."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import run_cli
from support_night import placed_demo


def placed(tmp_path: Path, pools: dict[str, list[str]]) -> tuple[Path, int]:
    """plans/demo.yaml with `pools` under its staging environment; the line of the first."""
    plan = placed_demo(tmp_path, pools)
    lines = plan.read_text().splitlines()
    return plan, lines.index("    pools:") + 2  # 1-based, the line after `pools:`


def test_a_placement_loads_and_says_where_each_system_runs(tmp_path: Path) -> None:
    from cutover.plan import load_plan

    plan, _ = placed(
        tmp_path, {"datacenter": ["loyalty-core", "crm-email"], "stores-network": ["pos-stores"]}
    )
    staging = load_plan(plan).plan.environments["staging"]
    assert staging.pool_of("pos-stores") == "stores-network"
    assert staging.pool_of("crm-email") == "datacenter"
    assert staging.pool_of("mobile-app") is None  # no pool: the cutover flow's own process
    assert staging.control_pool == "cutover-control"
    assert run_cli("validate", str(plan)).code == 0


@pytest.mark.parametrize(
    ("pools", "offset", "message"),
    [
        (
            {"datacenter": ["loyalty-core", "pos-store"]},
            0,
            "pool 'datacenter' names unknown system 'pos-store'; did you mean 'pos-stores'?",
        ),
        (
            {"datacenter": ["loyalty-core"], "stores-network": ["pos-stores", "loyalty-core"]},
            1,
            "system 'loyalty-core' is in two pools "
            "of environment 'staging' ('datacenter' and 'stores-network'); a system runs on one pool",
        ),
        (
            {"Stores Network": ["pos-stores"]},
            0,
            "environments.staging.pools.Stores Network",
        ),
    ],
    ids=["unknown-system", "two-pools", "bad-pool-name"],
)
def test_a_bad_placement_is_one_line_at_its_line_and_exit_2(
    tmp_path: Path, pools: dict[str, list[str]], offset: int, message: str
) -> None:
    plan, line = placed(tmp_path, pools)
    result = run_cli("validate", str(plan))
    assert result.code == 2
    assert f"{plan}:{line + offset}: {message}" in result.out, result.out
    assert "Traceback" not in result.out + result.err
