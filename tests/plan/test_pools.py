"""Work-pool placement in the plan: which pool reaches which system, refused when it cannot be."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import PLANS, run_cli

MARKER = "    token_secret: CUTOVER_ESTATE_TOKEN\n"


def placed(tmp_path: Path, pools: str) -> tuple[Path, int]:
    """plans/demo.yaml with `pools` under its staging environment; the line of the first."""
    for path in PLANS.rglob("*.yaml"):
        target = tmp_path / path.relative_to(PLANS)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    text = (tmp_path / "demo.yaml").read_text()
    assert MARKER in text
    first = text[: text.index(MARKER) + len(MARKER)].count("\n") + 2  # after `pools:`
    (tmp_path / "demo.yaml").write_text(text.replace(MARKER, MARKER + "    pools:\n" + pools, 1))
    return tmp_path / "demo.yaml", first


def test_a_placement_loads_and_says_where_each_system_runs(tmp_path: Path) -> None:
    from cutover.plan import load_plan

    plan, _ = placed(
        tmp_path,
        "      datacenter: [loyalty-core, crm-email]\n      stores-network: [pos-stores]\n",
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
            "      datacenter: [loyalty-core, pos-store]\n",
            0,
            "pool 'datacenter' names unknown system 'pos-store'; did you mean 'pos-stores'?",
        ),
        (
            "      datacenter: [loyalty-core]\n      stores-network: [pos-stores, loyalty-core]\n",
            1,
            "system 'loyalty-core' is in two pools "
            "of environment 'staging' ('datacenter' and 'stores-network'); a system runs on one pool",
        ),
        (
            "      Stores Network: [pos-stores]\n",
            0,
            "environments.staging.pools.Stores Network",
        ),
    ],
    ids=["unknown-system", "two-pools", "bad-pool-name"],
)
def test_a_bad_placement_is_one_line_at_its_line_and_exit_2(
    tmp_path: Path, pools: str, offset: int, message: str
) -> None:
    plan, line = placed(tmp_path, pools)
    result = run_cli("validate", str(plan))
    assert result.code == 2
    assert f"{plan}:{line + offset}: {message}" in result.out, result.out
    assert "Traceback" not in result.out + result.err
