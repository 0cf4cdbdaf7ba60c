"""Malformed plans: each one exits 2 with the exact `FILE:LINE: message`, no traceback.

Every case starts from BASE (a small valid plan whose line numbers are stated in
comments) and changes one thing; the test asserts the exact line printed.
"""

from __future__ import annotations

import shutil
import tracemalloc
from pathlib import Path

import pytest

from support import PLANS, run_cli

BASE = """\
name: Bad plan cases
timezone: Europe/Paris
starts_at: 2026-12-01T22:00:00+01:00
program: {legacy: old, target: new}
environments:
  staging:
    base_url: http://127.0.0.1:8700/systems/{system}
    stores:
      legacy: {engine: sqlite, path: var/legacy.db}
      fresh: {engine: sqlite, path: var/new.db}
departments:
  - {id: ops, name: Operations, lead: Ann, signoff_secret: OPS_SIGNOFF}
  - {id: web, name: Web, lead: Bob, signoff_secret: WEB_SIGNOFF}
systems:
  - id: core
    department: ops
    degrades: [redeem]
    steps:
      - {step: freeze, mode: read-only, expected: 10m}
      - {step: migrate, source: legacy, target: fresh, mapping: m.yaml, expected: 1h}
      - {step: unfreeze, expected: 5m}
  - id: shop
    department: web
    depends_on: [core]
    steps:
      - {step: switch, expected: 15m}
features:
  - id: redeem
    name: Redeeming rewards
    notice:
      text:
        started: "Redeeming is paused until {end}."
        restored: "Redeeming is back."
phases:
  - id: one
    starts: +0h
    systems: [core]
    gate: {approvers: [ops]}
  - id: two
    starts: +2h
    systems: [shop]
budgets:
  - {feature: redeem, max_outage: 2h}
"""
# line numbers in BASE: 15 `- id: core`, 16 department, 17 degrades, 19 freeze,
# 20 migrate, 21 unfreeze, 22 `- id: shop`, 24 depends_on, 26 switch,
# 28 `- id: redeem`, 30 notice, 35 `- id: one`, 38 gate, 39 `- id: two`,
# 40 starts (two), 41 systems (two), 43 budget


MAPPING = """\
source: {table: t, key: id, columns: {id: integer}}
target: {table: t, key: id}
"""


def write(tmp_path: Path, text: str, name: str = "plan.yaml") -> Path:
    (tmp_path / "m.yaml").write_text(MAPPING)
    path = tmp_path / name
    path.write_text(text)
    return path


def edit(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


CASES: list[tuple[str, str, int, str]] = [
    (
        "broken-yaml",
        edit("  - id: shop\n", "  - id: shop\n   oops: [\n"),
        23,
        "invalid YAML: did not find expected '-' indicator (while parsing a block collection)",
    ),
    (
        "tab-indent",
        edit("    department: web\n", "\tdepartment: web\n"),
        23,
        "invalid YAML: found a tab character that violates indentation (while scanning a plain scalar)",
    ),
    (
        "list-at-top",
        "- name: a\n- name: b\n",
        1,
        "the top level is a list; a plan is a mapping of keys",
    ),
    (
        "scalar-at-top",
        "just some words\n",
        1,
        "the top level is a str; a plan is a mapping of keys",
    ),
    ("empty-file", "", 1, "the file is empty; a plan starts with `name:`"),
    ("comments-only", "# nothing here\n\n", 1, "the file is empty; a plan starts with `name:`"),
    (
        "unknown-top-key",
        edit("budgets:\n", "budget:\n"),
        42,
        "budget: unknown key; did you mean 'budgets'?",
    ),
    (
        "unknown-system-key",
        edit("    department: web\n", "    department: web\n    colour: blue\n"),
        24,
        "systems[1].colour: unknown key",
    ),
    (
        "missing-key",
        edit("name: Bad plan cases\n", ""),
        1,
        "(top level): missing required key 'name'",
    ),
    (
        "wrong-type-depends",
        edit("depends_on: [core]", "depends_on: core"),
        24,
        "systems[1].depends_on: Input should be a valid list",
    ),
    (
        "bad-duration",
        edit("expected: 15m}", "expected: 15 minutes}"),
        26,
        "systems[1].steps[0].expected: '15 minutes' is not a duration; write it like '45m', '2h' or '1h30m'",
    ),
    (
        "duration-without-unit",
        edit("expected: 15m}", "expected: 15}"),
        26,
        "systems[1].steps[0].expected: 15 has no unit; write it like '15m' or '15h'",
    ),
    (
        "bad-freeze-mode",
        edit("mode: read-only", "mode: readonly"),
        19,
        "systems[0].steps[0].mode: Input should be 'buffer-writes', 'read-only' or 'offline'",
    ),
    (
        "unknown-step",
        edit("{step: switch, expected: 15m}", "{step: swap, expected: 15m}"),
        26,
        "systems[1].steps[0]: unknown step 'swap'; use 'freeze', 'migrate', 'verify', 'switch', 'unfreeze', 'http', 'manual'",
    ),
    (
        "bad-timezone",
        edit("timezone: Europe/Paris", "timezone: Mars/Olympus"),
        2,
        "timezone: unknown time zone 'Mars/Olympus'; use an IANA name like Europe/Paris",
    ),
    (
        "bad-id",
        edit("  - id: shop\n", "  - id: Shop_Front\n"),
        22,
        "systems[1].id: must be an id: lowercase letters, digits and dashes, starting with a letter",
    ),
    (
        "duplicate-yaml-key",
        edit("    department: web\n", "    department: web\n    department: ops\n"),
        24,
        "duplicate key 'department' (first at line 23)",
    ),
    (
        "password-in-dsn",
        edit(
            "fresh: {engine: sqlite, path: var/new.db}",
            "fresh: {engine: postgresql, dsn: 'postgresql://u:hunter2@db/x'}",
        ),
        10,
        "environments.staging.stores.fresh: the dsn holds a password; name it with `password_secret` instead",
    ),
    # lint rules
    (
        "unknown-department",
        edit("    department: web\n", "    department: webb\n"),
        23,
        "system 'shop': unknown department 'webb'; did you mean 'web'?",
    ),
    (
        "unknown-dependency",
        edit("depends_on: [core]", "depends_on: [kore]"),
        24,
        "system 'shop' depends on unknown system 'kore'; did you mean 'core'?",
    ),
    (
        "self-dependency",
        edit("depends_on: [core]", "depends_on: [shop]"),
        24,
        "system 'shop' depends on itself",
    ),
    (
        "cycle",
        edit("    degrades: [redeem]\n", "    degrades: [redeem]\n    depends_on: [shop]\n"),
        18,
        "dependency cycle: core → shop → core",
    ),
    (
        "system-in-no-phase",
        edit("    systems: [shop]\n", "    systems: [core]\n"),
        22,
        "system 'shop' is in no phase",
    ),
    (
        "system-in-two-phases",
        edit("    systems: [shop]\n", "    systems: [shop, core]\n"),
        41,
        "system 'core' is in two phases ('one', 'two'); to run some of its steps in 'two', "
        "mark the first of them `phase: two`",
    ),
    (
        "dependency-in-later-phase",
        edit("    department: ops\n", "    department: ops\n    depends_on: [shop]\n").replace(
            "depends_on: [core]", "depends_on: []"
        ),
        17,
        "system 'core' (phase 'one') depends on 'shop', which runs in a later phase ('two')",
    ),
    (
        "phase-starts-too-early",
        edit("starts: +2h", "starts: +1h"),
        24,
        "phase 'two' starts at +1h, before 'core' (which 'shop' depends on) can finish at +1h15m",
    ),
    (
        "phase-overlaps-previous",
        edit("starts: +2h", "starts: +1h").replace("depends_on: [core]", "depends_on: []"),
        40,
        "phase 'two' starts at +1h, before phase 'one' can finish at +1h15m",
    ),
    (
        "degraded-without-notice",
        edit(
            '    notice:\n      text:\n        started: "Redeeming is paused until {end}."\n        restored: "Redeeming is back."\n',
            "",
        ),
        28,
        "feature 'redeem' is degraded (by core) but has no `notice:` telling customers",
    ),
    (
        "budget-broken",
        edit("max_outage: 2h", "max_outage: 10m"),
        43,
        "feature 'redeem' is down 15m in one window (Tue 23:00–23:15, by core), over its budget of 10m",
    ),
    (
        "approver-not-department",
        edit("approvers: [ops]", "approvers: [legal]"),
        38,
        "gate approver 'legal' is not a department id; approvers are department ids: ops, web",
    ),
    (
        "approver-a-person",
        edit("approvers: [ops]", "approvers: [Ann]"),
        38,
        "gate approver 'Ann' is not a department id; approvers are department ids: "
        "did you mean 'ops' (Operations, lead Ann)?",
    ),
    (
        "approver-a-department-name",
        edit("approvers: [ops]", "approvers: [Operation]"),
        38,
        "gate approver 'Operation' is not a department id; approvers are department ids: "
        "did you mean 'ops' (Operations, lead Ann)?",
    ),
    (
        "negative-duration",
        edit("expected: 15m}", "expected: -10m}"),
        26,
        "systems[1].steps[0].expected: '-10m': a duration must be positive; write it like '10m'",
    ),
    (
        "zero-duration",
        edit("expected: 15m}", "expected: 0m}"),
        26,
        "systems[1].steps[0].expected: '0m' is no time at all: a duration must be more than zero",
    ),
    (
        "offset-without-plus",
        edit("starts: +2h", "starts: 2h"),
        40,
        "phases[1].starts: '2h' is an offset from `starts_at`: write it with a '+', like '+2h' "
        "(a phase starts that long after the cutover's start)",
    ),
    (
        "negative-offset",
        edit("starts: +2h", "starts: -2h"),
        40,
        "phases[1].starts: '-2h' is before `starts_at`: an offset is counted forward from it, "
        "like '+2h' ('+0h' is the start itself)",
    ),
    (
        "duplicate-system-id",
        edit("  - id: shop\n", "  - id: core\n"),
        22,
        "duplicate id 'core' (first at line 15)",
    ),
    (
        "unknown-feature",
        edit("degrades: [redeem]", "degrades: [redeem, refunds]"),
        17,
        "system 'core' degrades unknown feature 'refunds'",
    ),
    (
        "system-id-in-notice",
        edit("Redeeming is back.", "Redeeming is back on `core`."),
        33,
        "customer text names internal system 'core'; say what the customer can or cannot do "
        "instead, or, if 'core' is the customers' own word, give the system another id",
    ),
    (
        "url-in-notice",
        edit("Redeeming is back.", "Back: see https://status.example.com"),
        33,
        "customer text contains a URL or internal host name",
    ),
    (
        "unknown-placeholder",
        edit("paused until {end}", "paused until {finish}"),
        32,
        "features[0].notice.text.started: unknown placeholder {finish}; use {duration}, {end}, {feature}, {program}, {start}",
    ),
    (
        "unknown-store",
        edit("target: fresh", "target: newest"),
        20,
        "target store 'newest' is not defined in environment 'staging' (environments.staging.stores)",
    ),
    (
        "missing-mapping",
        edit("mapping: m.yaml", "mapping: nowhere.yaml"),
        20,
        "mapping file 'nowhere.yaml' not found (relative to the plan file)",
    ),
    (
        "never-unfrozen",
        edit("      - {step: unfreeze, expected: 5m}\n", ""),
        19,
        "system 'core' is frozen and never unfrozen; add `step: unfreeze`",
    ),
]


@pytest.mark.parametrize(("name", "text", "line", "message"), CASES, ids=[c[0] for c in CASES])
def test_malformed_plan_reports_exact_line(
    tmp_path: Path, name: str, text: str, line: int, message: str
) -> None:
    """Each malformed plan exits 2 and prints exactly FILE:LINE: message, never a traceback."""
    path = write(tmp_path, text)
    result = run_cli("validate", str(path))
    assert result.code == 2, result.output
    assert f"{path}:{line}: {message}" in result.out.splitlines(), result.output
    assert "Traceback" not in result.output


def test_base_plan_is_valid(tmp_path: Path) -> None:
    """The cases above are meaningful only if the unedited plan passes."""
    result = run_cli("validate", str(write(tmp_path, BASE)))
    assert result.code == 0, result.output


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Lint reports all problems in one run, sorted by line, not just the first."""
    text = edit("department: web\n", "department: webb\n").replace(
        "approvers: [ops]", "approvers: [x]"
    )
    path = write(tmp_path, text)
    lines = run_cli("validate", str(path)).out.splitlines()
    assert [ln.split(":")[1] for ln in lines] == ["23", "38"]


def test_alias_bomb_is_refused_quickly_and_cheaply(tmp_path: Path) -> None:
    """A 'billion laughs' document is refused before it expands, using little memory.

    (How fast is a speed figure: bench/plan_load.py, against loading a real plan.)"""
    levels = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join(f"*a{i - 1}" for _ in range(10))
        levels.append(f"a{i}: &a{i} [{refs}]")
    path = write(tmp_path, "\n".join(levels) + "\n")
    tracemalloc.start()
    result = run_cli("validate", str(path))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.code == 2
    assert (
        "document expands to more than 200,000 values (aliases nested too deep?); refused"
        in result.out
    )
    assert peak < 200 * 1024 * 1024


def test_ten_megabyte_plan_is_refused_without_parsing(tmp_path: Path) -> None:
    """A 10 MB plan is refused by size, before YAML parsing starts."""
    path = tmp_path / "huge.yaml"
    path.write_text("name: x\n" + "# padding " * 1_100_000)
    result = run_cli("validate", str(path))
    assert result.code == 2
    assert (
        result.out.strip()
        == f"{path}:1: file is 10.5 MiB, over the 5 MiB limit for a plan; split it or remove generated bulk"
    )


def test_missing_file_and_directory(tmp_path: Path) -> None:
    """A path that is not a readable file gets one line, exit 2."""
    assert (
        run_cli("validate", str(tmp_path / "no.yaml")).out.strip()
        == f"{tmp_path / 'no.yaml'}:1: no such file"
    )
    assert (
        run_cli("validate", str(tmp_path)).out.strip()
        == f"{tmp_path}:1: is a directory, not a plan file"
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: ok\ndescription: caf\xe9\n")
    assert run_cli("validate", str(path)).out.strip() == f"{path}:2: not UTF-8 text"


def test_show_on_bad_plan_runs_nothing(tmp_path: Path) -> None:
    """`show` on a bad plan prints the problems on stderr, exit 2, no timeline."""
    path = write(tmp_path, edit("approvers: [ops]", "approvers: [legal]"))
    result = run_cli("show", str(path))
    assert result.code == 2
    assert result.out == ""
    assert result.err.strip() == (
        f"{path}:38: gate approver 'legal' is not a department id; "
        "approvers are department ids: ops, web"
    )


def test_a_department_that_signs_a_gate_must_name_its_signoff_secret(tmp_path: Path) -> None:
    """Anyone could sign for a department without a secret: lint refuses it at its line."""
    plan = tmp_path / "plan.yaml"
    source = (PLANS / "demo.yaml").read_text()
    plan.write_text(source.replace(", signoff_secret: CUTOVER_SIGNOFF_DIGITAL", ""))
    shutil.copytree(PLANS / "mappings", tmp_path / "mappings")
    shutil.copytree(PLANS / "carry-back", tmp_path / "carry-back")
    result = run_cli("validate", str(plan))
    line = source.splitlines().index(next(x for x in source.splitlines() if "id: digital" in x)) + 1
    assert result.code == 2
    assert result.out.strip() == (
        f"{plan}:{line}: department 'digital' approves the gate of phase 'fronts' but names "
        "no `signoff_secret`: name the secret its lead types to sign (docs/gates.md)"
    )


@pytest.mark.parametrize(
    ("shop_id", "text", "named"),
    [
        ("website", "Redeeming is back on our website.", None),
        ("website", "Redeeming is back. Websites and web shops too.", None),
        ("website", "Redeeming is back on `website`.", "website"),
        ("web-shop", "Redeeming is back in the web-shop.", "web-shop"),
        ("web-shop", "Redeeming is back in the Web-Shop.", "web-shop"),
        ("web-shop", "Redeeming is back in our web shop and web-shops.", None),
        ("shop2", "Redeeming is back (shop2).", "shop2"),
    ],
)
def test_system_ids_are_found_in_customer_text_as_identifiers_not_words(
    tmp_path: Path, shop_id: str, text: str, named: str | None
) -> None:
    """A system called `website` does not forbid "our website"; `web-shop` or `` `website` `` is
    an internal name, refused with both ways out: reword, or give the system another id."""
    plan = BASE.replace("shop", shop_id).replace("Redeeming is back.", text)
    path = write(tmp_path, plan)
    result = run_cli("validate", str(path))
    if named is None:
        assert result.code == 0, result.output
    else:
        assert result.code == 2
        assert result.out.splitlines() == [
            f"{path}:33: customer text names internal system {named!r}; say what the customer "
            f"can or cannot do instead, or, if {named!r} is the customers' own word, give the "
            "system another id"
        ]
