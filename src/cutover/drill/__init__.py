"""Rehearsals on the simulated estate: `cutover demo` and `cutover drill`.

    >>> result = run_demo(DemoOptions(plan=Path("plans/demo.yaml"), drill=True))
    >>> result.lost, result.duplicated, result.refused      # 0, 0, 0

The estate, simulated customers and a ledger (`cutover.sim`), seeded stores,
injected faults, the cutover and rollback flows (`cutover.flows`), reconciliation
and the drill report. The only package that puts the simulator and the flows together.
"""

from __future__ import annotations

from cutover.drill.demo import run_demo
from cutover.drill.rehearsal import DemoOptions
from cutover.drill.result import DemoResult

__all__ = ["DemoOptions", "DemoResult", "run_demo"]
