"""A gate's `mapping_checks`: the gap analysis a mapping sign-off shows, as the plan says it.

Each bad case exits 2 with exactly `FILE:LINE: message` (and a did-you-mean where one
fits); a plan without the key stays valid; `cutover schema` describes the key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_bad_plans import BASE, write

from support import PLANS, run_cli

GATE = "    gate: {approvers: [ops]}\n"  # line 38 of BASE


def with_checks(checks: str) -> str:
    assert GATE in BASE
    return BASE.replace(GATE, "    gate:\n      approvers: [ops]\n      mapping_checks:\n" + checks)


# line numbers: 38 `gate:`, 39 approvers, 40 `mapping_checks:`, 41 first check, 42 second
CASES = [
    (
        "unknown-key",
        with_checks("        - {mapping: m.yaml, stores: legacy}\n"),
        41,
        "phases[0].gate.mapping_checks[0].stores: unknown key; did you mean 'store'?",
    ),
    (
        "unknown-gate-key",
        BASE.replace(GATE, "    gate: {approvers: [ops], mapping_check: []}\n"),
        38,
        "phases[0].gate.mapping_check: unknown key; did you mean 'mapping_checks'?",
    ),
    (
        "missing-store",
        with_checks("        - {mapping: m.yaml}\n"),
        41,
        "phases[0].gate.mapping_checks[0]: missing required key 'store'",
    ),
    (
        "mapping-no-step-uses",
        with_checks("        - {mapping: n.yaml, store: legacy}\n"),
        41,
        "gate of phase 'one': mapping 'n.yaml' is not one the plan's migrate steps use "
        "(m.yaml); write it as the migrate step does; did you mean 'm.yaml'?",
    ),
    (
        "unknown-store",
        with_checks("        - {mapping: m.yaml, store: legacy-sample}\n"),
        41,
        "gate of phase 'one': store 'legacy-sample' is not defined in environment 'staging' "
        "(environments.staging.stores); did you mean 'legacy'?",
    ),
    (
        "twice",
        with_checks("        - {mapping: m.yaml, store: legacy}\n" * 2),
        42,
        "gate of phase 'one': this mapping check is listed twice",
    ),
]


@pytest.mark.parametrize(("name", "text", "line", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_mapping_check_is_one_line_at_its_line(
    tmp_path: Path, name: str, text: str, line: int, message: str
) -> None:
    """Unknown keys, a mapping no migrate step uses, a store missing: FILE:LINE, exit 2."""
    path = write(tmp_path, text)
    result = run_cli("validate", str(path))
    assert result.code == 2, result.output
    assert f"{path}:{line}: {message}" in result.out.splitlines(), result.output
    assert "Traceback" not in result.output


def test_a_good_mapping_check_validates(tmp_path: Path) -> None:
    """A mapping a migrate step uses, a store of every environment: valid."""
    path = write(tmp_path, with_checks("        - {mapping: m.yaml, store: legacy}\n"))
    result = run_cli("validate", str(path))
    assert result.code == 0, result.output


def test_the_platform_migration_signs_its_member_mapping_with_the_gap_report() -> None:
    """The seed plan's mapping sign-off gate names the member mapping and the sample feed."""
    from cutover.plan import load_plan

    plan = load_plan(PLANS / "platform-migration.yaml").plan
    gates = {p.id: p.gate for p in plan.phases if p.gate is not None}
    checks = gates["staging-full"].mapping_checks
    assert [(c.mapping, c.store) for c in checks] == [("mappings/member-feed.yaml", "sample-feed")]
    assert all(not g.mapping_checks for pid, g in gates.items() if pid != "staging-full")


def test_the_schema_describes_mapping_checks() -> None:
    """`cutover schema` has the key, its two fields and that both are required."""
    result = run_cli("schema")
    assert result.code == 0, result.output
    defs = json.loads(result.out)["$defs"]
    assert "mapping_checks" in defs["Gate"]["properties"]
    assert set(defs["MappingCheck"]["required"]) == {"mapping", "store"}
    assert defs["MappingCheck"]["additionalProperties"] is False
