"""A trace as people and tools read it: table rows, markdown, and a one-row summary.

The rows feed `cutover trace`'s terminal table; the markdown is the run's artifact
(Prefect) and the drill report's section; the summary is what a verify step journals.
"""

from __future__ import annotations

from typing import Any

from cutover.dataflow.trace import HopReport, ProgramTrace, Trace

COLUMNS = (
    "#",
    "system",
    "keeps",
    "events in",
    "out",
    "lost",
    "duplicated",
    "points in",
    "points out",
    "carried",
    "hop drift",
    "worst member",
    "members off",
    "",
)


def points(cents: int, *, sign: bool = False) -> str:
    """Centipoints as points with two decimals: `1,234.56`, with `+`/`-` when asked."""
    return f"{cents / 100:+,.2f}" if sign else f"{cents / 100:,.2f}"


def hop_row(hop: HopReport) -> list[str]:
    keeps = hop.precision + (f", {hop.rounding}" if hop.rounding else "")
    worst = "0" if not hop.worst_member_cents else points(hop.worst_member_cents, sign=True)
    if hop.worst_member is not None:
        worst += f" (member {hop.worst_member})"
    return [
        str(hop.index),
        hop.system + (" (vendor)" if hop.vendor else ""),
        keeps,
        str(hop.events_in),
        str(hop.events_out),
        str(hop.lost),
        str(hop.duplicated),
        points(hop.value_in_cents),
        points(hop.value_out_cents),
        points(hop.carried_cents) if hop.carried_cents else "—",
        points(hop.drift_cents, sign=True) if hop.drift_cents else "0",
        worst,
        str(hop.members_off),
        "◀ departs" if hop.departs else "",
    ]


def title(program: ProgramTrace) -> str:
    verdict = "passed" if program.ok else "FAILED"
    return (
        f"{program.program}: {verdict} — expected {points(program.expected_cents)} points, "
        f"delivered {points(program.delivered_cents)} (carried remainders included), "
        f"tolerance {points(program.tolerance_cents)} per member"
    )


def heading(trace: Trace) -> str:
    return (
        f"Data flow {trace.flow} — {trace.name}: {trace.events} simulated transactions "
        f"(seed {trace.seed}) per program" + (f", env {trace.env}" if trace.env else "")
    )


def markdown(trace: Trace) -> str:
    """The whole trace: a table per program, the verdict last."""
    lines = [f"## {heading(trace)}", ""]
    for program in trace.programs:
        lines += [f"**{title(program)}**", ""]
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append("|" + " --- |" * len(COLUMNS))
        lines += ["| " + " | ".join(hop_row(h)) + " |" for h in program.hops]
        lines.append("")
    lines.append(trace.verdict())
    return "\n".join(lines) + "\n"


def summary(trace: Trace) -> dict[str, Any]:
    """What a verify step journals of a trace, and the drill report's row: small, plain."""
    return {
        "flow": trace.flow,
        "ok": trace.ok,
        "events": trace.events,
        "seed": trace.seed,
        "tolerance": trace.tolerance_cents / 100,
        "programs": {
            p.program: {
                "ok": p.ok,
                "worst_member_points": p.hops[-1].worst_member_cents / 100,
                "first_departure": None if p.departure is None else p.departure.label,
            }
            for p in trace.programs
        },
        "verdict": trace.verdict(),
    }


def summary_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The drill report's table of traces: a row per verify step, flow and program (a
    failed step's flows, whose figures the journal does not keep, one row with its error)."""
    lines = ["", "## Data flows traced", ""]
    lines += [
        "| system · step | flow | program | result | worst member drift | first departs at |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        where = f"{row.get('system', '')} · {row.get('step', '')}"
        if "error" in row:
            lines.append(f"| {where} | {row['flow']} | — | FAILED | {row['error']} | — |")
            continue
        for program, p in row.get("programs", {}).items():
            lines.append(
                f"| {where} | {row['flow']} | {program} | {'passed' if p['ok'] else 'FAILED'} | "
                f"{p['worst_member_points']:+.2f} points | {p['first_departure'] or '—'} |"
            )
    return lines
