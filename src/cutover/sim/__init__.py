"""The simulated estate, the 15-type traffic simulator, and reconciliation.

    >>> from cutover.sim import Settings, run_traffic, running_estate
    >>> from cutover.sim.reconcile import reconcile
    >>> with running_estate("plans/demo.yaml", "staging", workdir=tmp) as estate:
    ...     result = run_traffic(Settings(), url=estate.url, token=estate.token,
    ...                          rate=300, duration=60, ledger=tmp / "ledger.jsonl")
    >>> report = reconcile(plan, "staging", ledger=tmp / "ledger.jsonl",
    ...                    workdir=tmp, state_dir=estate.state_dir)
    >>> report.ok, report.render()

Nothing here imports Prefect; FastAPI and uvicorn load only when an estate starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cutover.sim.generator import Event, Generator, Settings
    from cutover.sim.ledger import Ledger, read_ledger
    from cutover.sim.reconcile import Report
    from cutover.sim.server import RunningEstate, default_state_dir, running_estate
    from cutover.sim.traffic import TrafficResult, run_traffic

_HOME = {
    "Event": "generator",
    "Generator": "generator",
    "Settings": "generator",
    "Report": "reconcile",
    "RunningEstate": "server",
    "default_state_dir": "server",
    "running_estate": "server",
    "Ledger": "ledger",
    "TrafficResult": "traffic",
    "read_ledger": "ledger",
    "run_traffic": "traffic",
}
"""Loaded on first use: `cutover --help` imports this package and must stay fast."""


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"cutover.sim.{_HOME[name]}"), name)
    raise AttributeError(f"module 'cutover.sim' has no attribute {name!r}")


__all__ = [
    "Event",
    "Generator",
    "Ledger",
    "Report",
    "RunningEstate",
    "Settings",
    "TrafficResult",
    "default_state_dir",
    "read_ledger",
    "run_traffic",
    "running_estate",
]
