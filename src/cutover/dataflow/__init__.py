"""Data flows traced across systems: a plan's `data_flows` run through their hops.

    >>> from cutover.dataflow import trace
    >>> result = trace(plan.data_flow("double-star-day"), env="staging")
    >>> result.ok, result.verdict()

Pure computation on the plan and the programs' rules (`cutover.program`); nothing is
contacted, so `cutover trace`, a verify step's `dataflow:` check and a test run the same.
"""

from __future__ import annotations

from cutover.dataflow.trace import PROGRAMS, HopReport, ProgramTrace, Trace, trace

__all__ = ["PROGRAMS", "HopReport", "ProgramTrace", "Trace", "trace"]
