"""Lint of the data flows: what `cutover trace` needs of a flow before it can run one.

Each problem is at the line that says it:

- two flows with one id;
- a transaction type that is not one of the 15, or one that does not move points on
  its own (a return refers to a sale; an expiry reads a balance): the trace prices
  each transaction from itself (`cutover.program.standalone_points`); the same for a
  hop's `accepts`;
- a hop naming a system the plan does not have (an outside vendor is a system too);
- a loop: a hop coming back to a system the flow has already passed through;
- a `currency-cents` hop after a points hop (points are never turned back into
  currency), or a flow with no points hop at all;
- a verify step's `dataflow: ID` naming no flow of the plan.

(A precision or rounding rule that is not known, and `rounding` on the wrong kind of
hop, are refused by the models, `cutover.plan.dataflows`.)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator

from cutover import program
from cutover.errors import Problem
from cutover.plan.dataflows import DataFlow, DataflowCheck
from cutover.plan.models import Plan, VerifyStep

At = Callable[[tuple[str | int, ...], str], Problem]


def dataflow_problems(plan: Plan, at: At) -> Iterator[Problem]:
    """Every problem of the plan's data flows and of the checks naming them."""
    seen: set[str] = set()
    for fi, flow in enumerate(plan.data_flows):
        if flow.id in seen:
            yield at(("data_flows", fi, "id"), f"duplicate data flow id {flow.id!r}")
        seen.add(flow.id)
        where = ("data_flows", fi, "transactions")
        yield from _transactions(at, where, flow.id, flow.transactions)
        yield from _hops(plan, at, fi, flow)
    yield from _checks(plan, at)


def _transactions(
    at: At, base: tuple[str | int, ...], flow_id: str, kinds: list[str]
) -> Iterator[Problem]:
    for ti, kind in enumerate(kinds):
        if kind not in program.KINDS:
            yield at(
                (*base, ti),
                f"data flow {flow_id!r}: unknown transaction type {kind!r}"
                + _hint(kind, program.STANDALONE),
            )
        elif kind not in program.STANDALONE:
            yield at(
                (*base, ti),
                f"data flow {flow_id!r}: a {kind} does not move points on its own (it refers to another "
                f"transaction or reads a balance); a data flow starts with any of "
                f"{', '.join(program.STANDALONE)}",
            )


def _hops(plan: Plan, at: At, fi: int, flow: DataFlow) -> Iterator[Problem]:
    systems = [s.id for s in plan.systems]
    passed: dict[str, int] = {}
    priced = False
    for hi, hop in enumerate(flow.hops):
        base = ("data_flows", fi, "hops", hi)
        if hop.system not in systems:
            yield at(
                (*base, "system"),
                f"data flow {flow.id!r}, hop {hi + 1}: unknown system {hop.system!r}"
                + _hint(hop.system, systems)
                + " (an outside vendor's system is declared in `systems` too)",
            )
        if hop.system in passed:
            yield at(
                (*base, "system"),
                f"data flow {flow.id!r}, hop {hi + 1}: a loop: {hop.system!r} is hop "
                f"{passed[hop.system] + 1} already; a data flow passes each system once",
            )
        passed.setdefault(hop.system, hi)
        if hop.precision == "currency-cents" and priced:
            yield at(
                (*base, "precision"),
                f"data flow {flow.id!r}, hop {hi + 1}: a currency-cents hop after a points "
                "hop; points are not turned back into currency (currency-cents hops carry "
                "the sale before the first points hop prices it)",
            )
        priced = priced or hop.precision != "currency-cents"
        if hop.accepts is not None:
            yield from _transactions(at, (*base, "accepts"), flow.id, hop.accepts)
    if not priced:
        yield at(
            ("data_flows", fi, "hops"),
            f"data flow {flow.id!r}: no hop keeps points (centipoints or whole-points); "
            "there is nothing to trace",
        )


def _checks(plan: Plan, at: At) -> Iterator[Problem]:
    flows = [f.id for f in plan.data_flows]
    for si, system in enumerate(plan.systems):
        for ti, step in enumerate(system.steps):
            if not isinstance(step, VerifyStep):
                continue
            for ci, check in enumerate(step.checks):
                if isinstance(check, DataflowCheck) and check.dataflow not in flows:
                    yield at(
                        ("systems", si, "steps", ti, "checks", ci, "dataflow"),
                        f"step {system.id} · {step.key}: `dataflow: {check.dataflow}` names "
                        "no data flow of the plan" + _hint(check.dataflow, flows),
                    )


def _hint(value: str, known: list[str] | tuple[str, ...]) -> str:
    match = difflib.get_close_matches(value, list(known), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""
