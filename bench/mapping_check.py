"""Benchmark `cutover mapping check`: the gap analysis of a 1 M-row member sample.

    .venv/bin/python bench/mapping_check.py [--rows 1000000] [--keep DIR] [--json]

1. writes a sample file in the layout of plans/mappings/member-feed.yaml (the
   platform migration's member feed): decimal points with fractions, every status
   code, and a few rows that the mapping rejects (no email, an unknown status code,
   a malformed number), so every part of the report has work to do;
2. runs `cutover mapping check plans/mappings/member-feed.yaml --sample FILE` as a user
   would (a fresh process, the installed command) and times it from start to exit;
3. prints the rows, the seconds, rows per second and the report's headline; with
   --json, one JSON object as the last line (`rows`, `seconds`, `rows_per_s`).

The target is under 10 s for 1 M rows on the project's machine (2 cores).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "plans" / "mappings" / "member-feed.yaml"
HEADER = [
    "member_number",
    "email",
    "first_name",
    "status_code",
    "points",
    "lifetime_points",
    "joined_on",
]


def write_sample(path: Path, rows: int, seed: int = 16) -> None:
    rng = random.Random(seed)
    codes = ["A", "A", "A", "S", "C", " a "]
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for i in range(1, rows + 1):
            email = f"Member{i}@Example.com" if i % 10_007 else ""
            code = rng.choice(codes) if i % 20_011 else "X"
            cents = rng.randint(0, 2_000_000)
            points = f"{cents // 100}.{cents % 100:02d}" if i % 50_021 else "12,5"
            lifetime = rng.randint(cents, 40_000_000)
            out.writerow(
                [
                    i,
                    email,
                    f"Name {i}",
                    code,
                    points,
                    f"{lifetime // 100}.{lifetime % 100:02d}",
                    f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}",
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the sample here and keep it")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        sample = folder / "members-sample.csv"
        began = time.monotonic()
        write_sample(sample, args.rows)
        print(
            f"sample: {args.rows:,} rows, {sample.stat().st_size / 1e6:.0f} MB, "
            f"written in {time.monotonic() - began:.1f} s",
            file=sys.stderr,
        )
        exe = ROOT / ".venv" / "bin" / "cutover"
        command = [
            str(exe) if exe.exists() else "cutover",
            "mapping",
            "check",
            str(MAPPING),
            "--sample",
            str(sample),
            "--format",
            "json",
        ]
        began = time.monotonic()
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - began
    if proc.returncode != 0:
        sys.exit(f"mapping check failed ({proc.returncode}): {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    figures = {
        "rows": report["rows"],
        "seconds": round(seconds, 2),
        "rows_per_s": round(report["rows"] / seconds),
        "analysis_s": report["seconds"],
        "rejected": report["rejected"],
        "gaps": len(report["gaps"]),
    }
    print(
        f"mapping check: {figures['rows']:,} rows in {seconds:.2f} s wall "
        f"({figures['rows_per_s']:,} rows/s; analysis {report['seconds']:.2f} s), "
        f"{report['rejected']:,} rejected, {figures['gaps']} gaps — target under 10 s"
    )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
