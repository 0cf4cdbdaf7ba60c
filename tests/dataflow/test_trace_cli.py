"""`cutover trace` on the seed plan: the planted truncation found at its hop, the fix passing,
and bad data flows refused at their line before anything is traced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support import PLANS, run_cli

PLANTED = "{system: fraud-scoring, precision: whole-points, rounding: truncate}"
FLOW = ("--flow", "double-star-day", "--env", "staging")


def seed_copy(tmp_path: Path, old: str = "", new: str = "") -> Path:
    """plans/ copied (mappings and all), rewards-tiers.yaml with `old` replaced by `new`."""
    folder = tmp_path / "plans"
    shutil.copytree(PLANS, folder)
    plan = folder / "rewards-tiers.yaml"
    text = plan.read_text()
    assert old in text
    plan.write_text(text.replace(old, new, 1))
    return plan


def line_of(plan: Path, text: str) -> int:
    return next(i for i, line in enumerate(plan.read_text().splitlines(), 1) if text in line)


def test_the_trace_finds_the_planted_truncation_at_fraud_scoring() -> None:
    """Hop 6 (fraud-scoring, whole points, truncating) is where both programs first depart;
    every hop before it delivers exactly what the program says; exit 1."""
    result = run_cli("trace", str(PLANS / "rewards-tiers.yaml"), *FLOW, "--events", "400", "--json")
    assert result.code == 1, result.output
    trace = json.loads(result.out.splitlines()[-1])
    assert trace["ok"] is False and len(trace["programs"]) == 2
    for program in trace["programs"]:
        assert program["first_departure"] == "fraud-scoring"
        hops = program["hops"]
        assert len(hops) == 12
        assert [h["system"] for h in hops if h["departs"]] == ["fraud-scoring"]
        assert all(h["worst_member_cents"] == 0 for h in hops[:5])
        assert hops[5]["drift_cents"] < 0  # truncation only ever takes points away
        assert hops[-1]["worst_member_cents"] < 0
    assert "first departs at hop 6 fraud-scoring (whole-points, truncate)" in result.out


def test_the_environment_may_be_left_out() -> None:
    """`cutover trace PLAN --flow ID`: the trace reads the plan, the same in every environment."""
    result = run_cli("trace", str(PLANS / "rewards-tiers.yaml"), "--flow", "double-star-day")
    assert result.code == 1
    assert "first departs at hop 6 fraud-scoring" in result.out
    assert "env " not in result.out.splitlines()[0]


def test_carrying_the_remainder_at_fraud_scoring_makes_the_trace_pass(tmp_path: Path) -> None:
    """The fix the plan's comment names: whole points, the remainder carried per member."""
    plan = seed_copy(tmp_path, PLANTED, PLANTED.replace("truncate", "carry"))
    result = run_cli("trace", str(plan), *FLOW, "--events", "400", "--json")
    assert result.code == 0, result.output
    trace = json.loads(result.out.splitlines()[-1])
    assert trace["ok"] is True
    for program in trace["programs"]:
        assert program["first_departure"] is None
        assert program["expected_cents"] == program["delivered_cents"]
        assert all(h["worst_member_cents"] == 0 for h in program["hops"])


def test_rounding_half_up_there_still_drifts_past_a_zero_tolerance(tmp_path: Path) -> None:
    """Rounding each event to the nearest point errs both ways: a member's points still wander."""
    plan = seed_copy(tmp_path, PLANTED, PLANTED.replace("truncate", "half-up"))
    result = run_cli("trace", str(plan), *FLOW, "--events", "400")
    assert result.code == 1
    assert "first departs at hop 6 fraud-scoring (whole-points, half-up)" in result.out


def test_the_same_seed_traces_the_same_figures() -> None:
    args = ("trace", str(PLANS / "rewards-tiers.yaml"), *FLOW, "--events", "200", "--json")
    first, again = run_cli(*args), run_cli(*args)
    other = run_cli(*args, "--seed", "8")
    assert first.out.splitlines()[-1] == again.out.splitlines()[-1]
    assert json.loads(first.out.splitlines()[-1])["seed"] == 7  # the flow's default
    assert first.out.splitlines()[-1] != other.out.splitlines()[-1]


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (
            "{system: fraud-scorng, precision: whole-points, rounding: truncate}",
            "hop 6: unknown system 'fraud-scorng'; did you mean 'fraud-scoring'? "
            "(an outside vendor's system is declared in `systems` too)",
        ),
        (
            "{system: fraud-scoring, precision: whole-point, rounding: truncate}",
            "data_flows[0].hops[5].precision: Input should be 'currency-cents', 'centipoints' "
            "or 'whole-points'",
        ),
        (
            "{system: api-gateway, precision: whole-points, rounding: truncate}",
            "hop 6: a loop: 'api-gateway' is hop 2 already; a data flow passes each system once",
        ),
    ],
    ids=["unknown-system", "unknown-precision", "loop"],
)
def test_a_bad_hop_is_one_line_at_its_line_and_exit_2(
    tmp_path: Path, new: str, message: str
) -> None:
    """Nothing is traced: no table, one `FILE:LINE: message`."""
    plan = seed_copy(tmp_path, PLANTED, new)
    result = run_cli("trace", str(plan), *FLOW)
    assert result.code == 2
    assert result.out == ""
    assert result.err.strip() == f"{plan}:{line_of(plan, new)}: " + (
        message if message.startswith("data_flows") else "data flow 'double-star-day', " + message
    )


def test_a_verify_check_naming_no_flow_is_refused_at_its_line(tmp_path: Path) -> None:
    old = "      - {step: verify, checks: [system], expected: 10m}\n      - {step: switch"
    new = old.replace("checks: [system]", "checks: [system, dataflow: double-star]")
    plan = seed_copy(tmp_path, old, new)
    result = run_cli("trace", str(plan), *FLOW)
    assert result.code == 2
    assert result.err.strip() == (
        f"{plan}:{line_of(plan, 'dataflow: double-star]')}: step rules-engine · verify: "
        "`dataflow: double-star` names no data flow of the plan; did you mean 'double-star-day'?"
    )


def test_an_unknown_flow_or_environment_is_refused() -> None:
    plan = str(PLANS / "rewards-tiers.yaml")
    flow = run_cli("trace", plan, "--flow", "triple-star", "--env", "staging")
    assert flow.code == 2
    assert "--flow 'triple-star' is not a data flow" in flow.err
    assert "double-star-day" in flow.err
    env = run_cli("trace", plan, "--flow", "double-star-day", "--env", "prod")
    assert env.code == 2
    assert "--env 'prod' is not an environment of the plan" in env.err
