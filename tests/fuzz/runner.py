"""Runs one kind of the fuzz corpus in this process, under a memory cap; JSON results out.

    python tests/fuzz/runner.py KIND OUT.json

Started by `test_fuzz.py` as a child process: `resource.setrlimit(RLIMIT_AS)` caps what
all of a kind's cases may take together, so input that grows without bound fails the
run instead of the machine. Each case runs in its own empty folder.
"""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import tempfile
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

MEMORY_CAP = 3 << 30
"""Address space for the whole child (Python, pydantic, the estate's threads)."""
TOKEN = "fuzz-estate-token-0123456789"

sys.path.insert(0, str(Path(__file__).parent))
from corpus import CASES, Case  # noqa: E402


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def run_cli_case(case: Case, folder: Path) -> dict[str, Any]:
    from cutover.cli import main

    argv = case.build(folder)
    before = _files(folder)
    out, err = io.StringIO(), io.StringIO()
    os.chdir(folder)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(argv))
    except BaseException:
        code = -1
        err.write(traceback.format_exc())
    return {
        "code": code,
        "out": out.getvalue(),
        "err": err.getvalue(),
        "created": [f for f in _files(folder) if f not in before],
    }


def run_feed_line(case: Case, folder: Path) -> dict[str, Any]:
    """The bad line as line 5 of a full feed of ten good members (a duplicate of line 3's
    key for the duplicate case), loaded, its rejects read back, verified."""
    from corpus import FEED_HEADER, FEED_MAPPING

    from cutover import migrate
    from cutover.plan.models import Store

    good = [f"{i},m{i}@x.example,N{i},A,{i}.00,{i}.50,2020-01-01\n".encode() for i in range(1, 11)]
    lines = [*good[:3], case.build(folder), *good[3:]]
    (folder / "feed.csv").write_bytes(FEED_HEADER.encode() + b"".join(lines))
    feed = Store(engine="csv", path=str(folder / "feed.csv"))
    target = Store(engine="sqlite", path=str(folder / "target.db"), table="members")
    try:
        report = migrate.run_copy(feed, target, FEED_MAPPING, rejects=folder / "rejects.jsonl")
        rejects = [json.loads(x) for x in (folder / "rejects.jsonl").read_text().splitlines()]
        verified = migrate.verify(feed, target, FEED_MAPPING)
        return {
            "rows": report.rows,
            "rejects": [(r["line"], r["reason"]) for r in rejects],
            "verified": verified.ok,
        }
    except BaseException:
        return {"crash": traceback.format_exc()}


def run_http(cases: list[Case], root: Path) -> dict[str, dict[str, Any]]:
    import httpx
    from corpus import PLANS

    from cutover.sim import running_estate

    results: dict[str, dict[str, Any]] = {}
    with running_estate(PLANS / "demo.yaml", "staging", workdir=root, token=TOKEN) as estate:
        auth = {"authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=estate.url, timeout=60) as client:
            for case in cases:
                r = case.build(root)
                headers = {**auth, **r["headers"]}
                try:
                    answer = client.request(
                        r["method"], r["path"], content=r["body"], headers=headers
                    )
                    state = client.get("/systems/pos-stores/cutover/v1/state", headers=auth)
                    results[case.id] = {
                        "status": answer.status_code,
                        "body": answer.text[:300],
                        "frozen": state.json()["frozen"],
                    }
                except BaseException:
                    results[case.id] = {"crash": traceback.format_exc()}
    return results


def main() -> None:
    kind, out = sys.argv[1], Path(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    cases = [c for c in CASES if c.kind == kind]
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{kind}-") as tmp:
        root = Path(tmp)
        if kind == "http":
            results = run_http(cases, root)
        else:
            results = {}
            for n, case in enumerate(cases):
                folder = root / str(n)
                folder.mkdir()
                run = run_feed_line if kind == "feed-line" else run_cli_case
                results[case.id] = run(case, folder)
        os.chdir(root.parent)
    out.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
