"""The fuzz corpus (issue 19): every kind of bad input gets its one clear answer.

Files (plans, mappings, faults files, feeds): one line, exit 2, no traceback, nothing
written, nothing run. A feed's bad line: rejected with its line number and reason, the
other lines loaded, the feed verified. Control API bodies: the status docs/control-api.md
documents, and the system unchanged. Each kind runs in a child process capped in memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from corpus import CASES, Case

RUNNER = Path(__file__).parent / "runner.py"
KINDS = sorted({c.kind for c in CASES})
_results: dict[str, dict[str, Any]] = {}


def results_of(kind: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if kind not in _results:
        out = tmp_path_factory.mktemp(f"fuzz-{kind}") / "results.json"
        env = {
            **os.environ,
            "CUTOVER_DEBUG": "0",
            # a safety net: a case wrongly accepted stops at this server, which is not there
            "PREFECT_API_URL": "http://127.0.0.1:9/api",
            "NO_COLOR": "1",
            "CUTOVER_ESTATE_TOKEN": "fuzz-estate-token-0123456789",
        }
        env.pop("PREFECT_API_AUTH_STRING", None)
        done = subprocess.run(
            [sys.executable, str(RUNNER), kind, str(out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,  # a guard against a hang, not a timing assertion
        )
        assert done.returncode == 0, done.stderr[-3000:]
        _results[kind] = json.loads(out.read_text())
    return _results[kind]


def test_the_corpus_is_large_and_covers_every_kind() -> None:
    assert len(CASES) >= 128
    assert len({c.id for c in CASES}) == len(CASES)
    assert set(KINDS) == {"faults", "feed", "feed-line", "http", "mapping", "plan"}


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.kind not in ("http", "feed-line")], ids=lambda c: c.id
)
def test_a_bad_file_is_one_line_and_exit_2(
    case: Case, tmp_path_factory: pytest.TempPathFactory
) -> None:
    got = results_of(case.kind, tmp_path_factory)[case.id]
    said = (got["out"] + got["err"]).strip()
    assert got["code"] == case.expect, said[-2000:]
    assert "Traceback" not in said and "internal error" not in said
    assert len(said.splitlines()) == case.lines, said[-2000:]
    assert "no Prefect server answers" not in said, "accepted: it went on to start the run"
    assert got["created"] == [], "nothing is written for bad input"


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "feed-line"], ids=lambda c: c.id)
def test_a_bad_feed_line_is_its_own_reject(
    case: Case, tmp_path_factory: pytest.TempPathFactory
) -> None:
    got = results_of("feed-line", tmp_path_factory)[case.id]
    assert "crash" not in got, got.get("crash")
    [(line, reason)] = got["rejects"]
    assert line == 5 and case.expect in reason, reason
    assert got["rows"] == 10 and got["verified"]


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "http"], ids=lambda c: c.id)
def test_a_bad_request_gets_its_documented_status(
    case: Case, tmp_path_factory: pytest.TempPathFactory
) -> None:
    got = results_of("http", tmp_path_factory)[case.id]
    assert "crash" not in got, got.get("crash")
    assert got["status"] == case.expect, got["body"]
    if got["body"]:
        assert json.loads(got["body"])["status"] in ("rejected", "refused")
    assert got["frozen"] is False, "a 4xx changes nothing"
