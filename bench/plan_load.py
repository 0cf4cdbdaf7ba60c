"""Benchmark: refusing a hostile plan costs no more than loading a real one.

    .venv/bin/python bench/plan_load.py [--repeat 5] [--json]

1. baseline, measured in the same run: `load_plan(plans/rewards-tiers.yaml)` (the YAML,
   every mapping and carry-back file it names, lint), the median of `--repeat` loads;
2. `alias_bomb_s`: the same call on a 'billion laughs' document (ten levels of ten
   aliases, 10^10 values if expanded), refused with a PlanError; the median too;
3. `alias_bomb_ratio` = alias_bomb_s / baseline_s. A refusal that expanded the document
   would take minutes and gigabytes; a small multiple of a real plan's load is the aim.

The behaviour (refused, one clear line, little memory) is tested in
tests/plan/test_bad_plans.py; the speed is measured here, not asserted there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from cutover.errors import PlanError  # noqa: E402
from cutover.plan import load_plan  # noqa: E402


def alias_bomb(path: Path) -> Path:
    levels = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join(f"*a{i - 1}" for _ in range(10))
        levels.append(f"a{i}: &a{i} [{refs}]")
    path.write_text("\n".join(levels) + "\n")
    return path


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def refuse(path: Path) -> None:
    try:
        load_plan(path)
    except PlanError:
        return
    raise SystemExit("the alias bomb was accepted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    real = ROOT / "plans" / "rewards-tiers.yaml"
    load_plan(real)  # warm imports and caches before either is timed
    with tempfile.TemporaryDirectory() as folder:
        bomb = alias_bomb(Path(folder) / "bomb.yaml")
        baseline = median_seconds(lambda: load_plan(real), args.repeat)
        bombed = median_seconds(lambda: refuse(bomb), args.repeat)
    ratio = bombed / baseline if baseline > 0 else float("inf")
    print(f"baseline, load plans/rewards-tiers.yaml: {baseline * 1000:.1f} ms")
    print(f"alias bomb refused:                     {bombed * 1000:.1f} ms  -> ratio {ratio:.2f}x")
    if args.json:
        print(
            json.dumps(
                {
                    "baseline_s": round(baseline, 4),
                    "alias_bomb_s": round(bombed, 4),
                    "alias_bomb_ratio": round(ratio, 3),
                }
            )
        )


if __name__ == "__main__":
    main()
