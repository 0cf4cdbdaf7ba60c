"""A gap report as people read it: aligned text for a terminal, markdown for a sign-off.

Both are drawn from the same sections (title, column headings, rows, notes), so the
terminal and the gate form never say different things. JSON is `GapReport.to_dict()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cutover.migrate.gaps import GapReport, Remainders, SourceField, TargetColumn, rows

_FIELD_NOTES = {
    "unmapped": "no target column is made from it: its data is dropped",
    "not in the mapping": "not in source.columns: the migrate step refuses the file (schema drift)",
    "missing": "not in the sample (or of another type): the migrate step refuses it; read as empty",
    "change": "the delta file's change column (source.operation)",
}
SHOWN_VALUES = 8
"""Values listed for a column made of constants (lookup, tier)."""


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _points(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def _field_row(f: SourceField) -> list[str]:
    if f.status in ("mapped", "renamed"):
        what = "→ " + ", ".join(f.targets)
    else:
        what = _FIELD_NOTES[f.status]
    return [f.name, f.declared or "—", f.status, what]


def _target_row(t: TargetColumn) -> list[str]:
    detail = []
    if t.empty:
        detail.append(f"{t.empty:,} empty")
    if t.defaulted:
        detail.append(f"{t.defaulted:,} defaulted")
    if t.values:
        ranked = sorted(t.values.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f"{v} {n:,}" for v, n in ranked[:SHOWN_VALUES])
        detail.append(shown + (", …" if len(ranked) > SHOWN_VALUES else ""))
    elif t.low is not None:
        detail.append(f"{t.low:,} to {t.high:,}")
    return [t.name, t.source, t.kind, t.status, f"{t.filled:,}", "; ".join(detail)]


def _pair_row(p: Remainders) -> list[str]:
    verdict = (
        "yes"
        if p.conserved
        else f"NO ({_points(p.legacy_cents - p.whole_points * 100 - p.remainder_cents)} points astray)"
    )
    return [
        f"{p.source} → {p.whole} + {p.remainder}",
        f"{p.rows:,}",
        _points(p.legacy_cents),
        f"{p.whole_points:,}",
        f"{_points(p.remainder_cents)} ({rows(p.with_remainder)})",
        verdict,
    ]


def sections(report: GapReport) -> list[Section]:
    """The report's sections, in the order a reviewer reads them."""
    out = [
        Section(
            "Source fields",
            ["field", "type", "status", "becomes"],
            [_field_row(f) for f in report.fields],
        ),
        Section(
            "Target columns",
            ["column", "from", "type", "status", "filled", "empty, defaulted, values"],
            [_target_row(t) for t in report.targets],
        ),
    ]
    rejects = Section("Rejected rows, by rule", ["rule", "kind", "rows", "examples"])
    rejects.rows = [[r.rule, r.group, f"{r.rows:,}", "; ".join(r.examples)] for r in report.rejects]
    if not report.rejects:
        rejects.notes.append("No row is rejected.")
    out.append(rejects)
    if report.remainders:
        rounding = report.remainders[0].rounding
        out.append(
            Section(
                f"Points and rounding remainders (rounding: {rounding})",
                [
                    "points",
                    "rows",
                    "legacy points",
                    "whole points",
                    "remainders carried",
                    "conserved to the centipoint",
                ],
                [_pair_row(p) for p in report.remainders],
            )
        )
    clashes = Section("Type clashes and values out of range", [])
    group = [r for r in report.rejects if r.group in ("type", "range")]
    clashes.notes = [f"{r.rule}: {rows(r.rows)} rejected" for r in group] + report.clashes
    if report.duplicate_keys:
        clashes.notes.append(
            f"{rows(report.duplicate_keys)} repeat a key ({', '.join(report.duplicate_examples)}"
            "): the last one wins"
        )
    if not clashes.notes:
        clashes.notes.append("None.")
    out.append(clashes)
    return out


def _headline(report: GapReport) -> list[str]:
    counts = f"{rows(report.rows)}: {report.accepted:,} accepted, {report.rejected:,} rejected"
    if report.deletes:
        counts += f", {report.deletes:,} deletes"
    gaps = report.gaps()
    verdict = (
        f"{len(gaps)} gap{'s' if len(gaps) != 1 else ''} to resolve before sign-off"
        if gaps
        else "no gaps"
    )
    return [counts + f" ({report.seconds:.2f} s)", verdict]


def render_text(report: GapReport) -> str:
    lines = [f"Gap analysis of {report.mapping} on {report.sample}", *_headline(report)]
    for section in sections(report):
        lines += ["", section.title]
        if section.rows:
            widths = [
                max(len(r[i]) for r in [section.headers, *section.rows])
                for i in range(len(section.headers))
            ]
            for row in [section.headers, *section.rows]:
                lines.append(
                    "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                )
        lines += [f"  {note}" for note in section.notes]
    gaps = report.gaps()
    if gaps:
        lines += ["", "Gaps"] + [f"  - {gap}" for gap in gaps]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: GapReport) -> str:
    head = _headline(report)
    lines = [
        f"## Gap analysis: `{report.mapping}`",
        "",
        f"On `{report.sample}`. {head[0]}; **{head[1]}**.",
    ]
    for section in sections(report):
        lines += ["", f"### {section.title}", ""]
        if section.rows:
            lines.append("| " + " | ".join(section.headers) + " |")
            lines.append("|" + "---|" * len(section.headers))
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in section.rows]
            if section.notes:
                lines.append("")
        lines += [f"- {_cell(note)}" if not section.rows else _cell(note) for note in section.notes]
    gaps = report.gaps()
    if gaps:
        lines += ["", "### Gaps", ""] + [f"- {_cell(gap)}" for gap in gaps]
    return "\n".join(lines) + "\n"
