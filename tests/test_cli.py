"""The `cutover` command: show formats, schema, logging flags, and no Prefect import on plan commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from support import PLANS, ROOT, run_cli


def test_show_json_is_the_documented_contract() -> None:
    """`show --format json` carries format, plan, days, phases, departments, critical path, features."""
    result = run_cli("show", str(PLANS / "demo.yaml"), "--format", "json")
    assert result.code == 0, result.output
    data = json.loads(result.out)
    assert data["format"] == "cutover.timeline/1"
    assert set(data) == {
        "format",
        "plan",
        "days",
        "phases",
        "departments",
        "critical_path",
        "features",
    }
    assert data["plan"]["starts_at"] == "2026-12-01T21:00:00-06:00"
    assert [p["id"] for p in data["phases"]] == ["prepare", "fronts", "downstream"]
    assert data["phases"][0]["gate"]["approvers"] == ["loyalty-platform"]
    assert {d["id"] for d in data["departments"]} == {"loyalty-platform", "store-tech", "digital"}
    assert data["critical_path"][-1] == {
        "system": "crm-email",
        "step": "switch",
        "start": "2026-12-01T23:50:00-06:00",
        "end": "2026-12-01T23:55:00-06:00",
    }
    redeem = next(f for f in data["features"] if f["id"] == "redeem-rewards")
    assert redeem["windows"] == [
        {
            "start": "2026-12-01T21:55:00-06:00",
            "end": "2026-12-01T22:00:00-06:00",
            "duration_s": 300.0,
            "systems": ["loyalty-core"],
        }
    ]
    assert redeem["within_budget"] is True


def test_show_text_and_markdown_name_every_department_and_feature() -> None:
    for fmt in ("text", "markdown"):
        result = run_cli("show", str(PLANS / "demo.yaml"), "--format", fmt)
        assert result.code == 0, result.output
        for name in ("Loyalty Platform", "Store Technology", "Digital & Mobile"):
            assert name in result.out
        assert "Critical path" in result.out
        assert "Redeeming rewards" in result.out and "Rewards in the app" in result.out


def test_schema_is_json_schema_of_the_plan() -> None:
    result = run_cli("schema")
    schema = json.loads(result.out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {
        "name",
        "timezone",
        "starts_at",
        "environments",
        "departments",
        "systems",
        "phases",
    } <= set(schema["required"])
    assert schema["additionalProperties"] is False


def test_plan_commands_do_not_import_prefect() -> None:
    """validate, show and schema stay fast: Prefect (1-2 s to import) is never loaded."""
    code = (
        "import sys; from cutover.cli import main\n"
        f"assert main(['validate', {str(PLANS / 'demo.yaml')!r}]) == 0\n"
        f"assert main(['show', {str(PLANS / 'demo.yaml')!r}, '-f', 'json']) == 0\n"
        "assert main(['schema']) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'prefect')\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_usage_errors_exit_2_without_traceback() -> None:
    result = run_cli("no-such-command")
    assert result.code == 2
    assert "Traceback" not in result.output


def test_console_script_runs() -> None:
    """The installed `cutover` entry point works as a real process, exit codes included."""
    exe = ROOT / ".venv" / "bin" / "cutover"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "cutover.cli"]
    ok = subprocess.run(
        [*command, "validate", str(PLANS / "demo.yaml")], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [*command, "validate", "/nonexistent.yaml"], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert bad.stdout.strip() == "/nonexistent.yaml:1: no such file"


def test_every_command_turns_prefects_telemetry_off_before_prefect_loads() -> None:
    """Nothing leaves the machine: whatever command runs, Prefect (imported after it)
    sees analytics off, and so does every child process the command starts."""
    code = (
        "import io, os, contextlib\n"
        "from cutover.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['schema'])\n"
        "from prefect.settings import get_current_settings\n"
        "print(os.environ['DO_NOT_TRACK'], get_current_settings().server.analytics_enabled)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DO_NOT_TRACK",)}
    env = {k: v for k, v in env.items() if "ANALYTICS" not in k}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == ["1", "False"]
