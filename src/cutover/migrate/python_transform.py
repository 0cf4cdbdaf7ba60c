"""A mapping compiled to Python: generated source, one straight-line function per entry point.

A row costs a few microseconds: no interpretation of the mapping per row, the loop
over a batch compiled in (`rows`, `rows_copy`), constants bound once. The meaning is
the SQL side's (`sql_transform`), value for value and reason for reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cutover.migrate.mapping import DEFAULT_TIERS, FieldSpec, Mapping
from cutover.migrate.transform import (
    COPY_NEEDS_ESCAPE,
    Reject,
    Row,
    copy_escape,
    lower_ascii,
    parse_cents,
    parse_int,
    quote,
    redeem_cost,
    tier_of,
    upper_ascii,
)


@dataclass(frozen=True)
class Compiled:
    """The Python functions of one mapping.

    - `row(values)`: typed source values (mapping.source_columns order) -> target tuple or Reject
    - `csv(fields)`: CSV text fields -> target tuple or Reject (empty text is NULL)
    - `row_copy(values)`: typed source values -> one PostgreSQL COPY text line, or Reject
    - `format_copy(row)`: a target tuple -> a COPY text line
    - `row_text(values)`, `target_text(row)`: the text verification hashes, from a source row
      (transformed) and from a target row, or Reject
    """

    row: Callable[[Sequence[Any]], Row | Reject]
    rows: Callable[[Sequence[Sequence[Any]]], tuple[list[Any], list[tuple[Any, Reject]]]]
    """`row` over a batch, the loop compiled in: (results, [(values, Reject), ...])."""
    rows_copy: Callable[[Sequence[Sequence[Any]]], tuple[list[Any], list[tuple[Any, Reject]]]]
    """`row_copy` over a batch: (COPY lines, rejects)."""
    csv: Callable[[Sequence[str]], Row | Reject]
    row_copy: Callable[[Sequence[Any]], str | Reject]
    format_copy: Callable[[Sequence[Any]], str]
    row_text: Callable[[Sequence[Any]], str | Reject]
    target_text: Callable[[Sequence[Any]], str]
    source: str


_ENTRY_POINTS = (
    "row",
    "rows",
    "rows_copy",
    "csv",
    "row_copy",
    "format_copy",
    "row_text",
    "target_text",
)


def compile_python(mapping: Mapping) -> Compiled:
    """Generate and compile the mapping's Python functions."""
    consts: dict[str, Any] = {
        "R": Reject,
        "_q": quote,
        "_lower": lower_ascii,
        "_upper": upper_ascii,
        "_int": parse_int,
        "_cents": parse_cents,
        "_esc": copy_escape,
        "_tier": tier_of,
        "_redeem": redeem_cost,
        "_MISSING": object(),
    }
    index = {name: i for i, name in enumerate(mapping.source_columns)}
    body: list[str] = []
    for k, (name, spec) in enumerate(mapping.fields.items()):
        body += _field_code(k, name, spec, f"c{index[spec.source]}", mapping, consts)
    outs = ", ".join(f"o{k}" for k in range(len(mapping.fields)))
    ret = f"    return ({outs},)"
    row_fn = [*_row_head(mapping), *body, ret]
    csv_fn = [*_csv_head(mapping), *body, ret]
    emit = _copy_emit(mapping)
    row_copy_fn = ["def row_copy(values):", *row_fn[1:-1], *emit]
    fmt_fn = ["def format_copy(out):", f"    {outs}, = out", *emit]
    row_text_fn, target_text_fn = _text_fns(mapping, index, row_fn, outs)
    functions = [
        row_fn,
        _batched("rows", row_fn),
        _batched("rows_copy", row_copy_fn),
        csv_fn,
        row_copy_fn,
        fmt_fn,
        row_text_fn,
        target_text_fn,
    ]
    source = "\n".join(line for fn in functions for line in [*fn, ""])
    namespace: dict[str, Any] = dict(consts)
    # generated from validated column names and counters only; values are passed as constants
    exec(compile(source, f"<mapping {mapping.name}>", "exec"), namespace)
    return Compiled(**{name: namespace[name] for name in _ENTRY_POINTS}, source=source)


def _unpack(mapping: Mapping) -> str:
    return ", ".join(f"c{i}" for i in range(len(mapping.source_columns))) + ","


def _row_head(mapping: Mapping) -> list[str]:
    """`row`'s first lines: typed values; cents a database keeps as text or numeric parsed."""
    lines = ["def row(values):", f"    {_unpack(mapping)} = values"]
    for i, name in enumerate(mapping.source_columns):
        if mapping.source.columns[name] == "cents":
            lines += [
                f"    if c{i} is not None and c{i}.__class__ is not int:",
                f"        if (v := _cents(str(c{i}))) is None: return R({name!r} + ': ' + _q(c{i}) + ' is not a number with at most 2 decimals')",
                f"        c{i} = v",
            ]
    return lines


def _csv_head(mapping: Mapping) -> list[str]:
    """`csv`'s first lines: text fields parsed (empty is NULL)."""
    lines = ["def csv(fields):", f"    {_unpack(mapping)} = fields"]
    for i, name in enumerate(mapping.source_columns):
        kind = mapping.source.columns[name]
        lines.append(f"    if c{i} == '': c{i} = None")
        if kind == "integer":
            lines += [
                f"    elif (v := _int(c{i})) is None: return R({name!r} + ': ' + _q(c{i}) + ' is not an integer')",
                f"    else: c{i} = v",
            ]
        elif kind == "cents":
            lines += [
                f"    elif (v := _cents(c{i})) is None: return R({name!r} + ': ' + _q(c{i}) + ' is not a number with at most 2 decimals')",
                f"    else: c{i} = v",
            ]
    return lines


def _copy_emit(mapping: Mapping) -> list[str]:
    """The lines that return outputs `o0..` as one COPY text line."""
    fmt_parts = []
    for k, (name, kind) in enumerate(mapping.output_types.items()):
        if kind == "integer":
            fmt_parts.append(f"('\\\\N' if o{k} is None else str(o{k}))")
        elif _constant_safe(mapping.fields[name]):
            fmt_parts.append(f"('\\\\N' if o{k} is None else o{k})")
        else:
            fmt_parts.append(
                f"('\\\\N' if o{k} is None else o{k} if '\\\\' not in o{k} and '\\t' not in o{k} "
                f"and '\\n' not in o{k} and '\\r' not in o{k} else _esc(o{k}))"
            )
    joined = " + '\\t' + ".join(fmt_parts)
    # fast path: nothing NULL, no text needing escapes -> one f-string
    checks = []
    for k, (name, kind) in enumerate(mapping.output_types.items()):
        checks.append(f"o{k} is not None")
        if kind == "text" and not _constant_safe(mapping.fields[name]):
            checks.append(f"o{k}.isprintable() and '\\\\' not in o{k}")
    fast = "\\t".join(f"{{o{k}}}" for k in range(len(mapping.fields)))
    return [f"    if {' and '.join(checks)}:", f'        return f"{fast}"', f"    return {joined}"]


def _text_of(values: list[str], cents: list[str]) -> list[str]:
    """Verification text: projection joined by |, NULL as \\N, then # and the centipoints
    joined by :."""
    parts = [f"('\\\\N' if {v} is None else str({v}))" for v in values]
    expr = " + '|' + ".join(parts)
    fast = "|".join(f"{{{v}}}" for v in values)
    if cents:
        expr += " + '#' + " + " + ':' + ".join(
            f"('\\\\N' if {c} is None else str({c}))" for c in cents
        )
        fast += "#" + ":".join(f"{{{c}}}" for c in cents)
    test = " and ".join(f"{v} is not None" for v in [*values, *cents])
    return [f"    if {test}:", f'        return f"{fast}"', f"    return {expr}"]


def _text_fns(
    mapping: Mapping, index: dict[str, int], row_fn: list[str], outs: str
) -> tuple[list[str], list[str]]:
    """`row_text` (centipoints: the legacy value) and `target_text` (whole * 100 + remainder)."""
    values = [f"o{k}" for k in range(len(mapping.fields))]
    pair_src = [f"c{index[p.source]}" for p in mapping.points_pairs]
    row_text_fn = ["def row_text(values):", *row_fn[1:-1], *_text_of(values, pair_src)]
    targets = list(mapping.fields)
    pair_new = [f"n{i}" for i in range(len(mapping.points_pairs))]
    target_text_fn = ["def target_text(out):", f"    {outs}, = out"]
    for i, pair in enumerate(mapping.points_pairs):
        w, r = f"o{targets.index(pair.whole)}", f"o{targets.index(pair.remainder)}"
        target_text_fn.append(f"    n{i} = None if {w} is None or {r} is None else {w} * 100 + {r}")
    return row_text_fn, target_text_fn + _text_of(values, pair_new)


_REJECT = re.compile(r"return R\((.*)\)$")


def _batched(name: str, fn: list[str]) -> list[str]:
    """A per-row function's body as a loop over a batch: one call per chunk, not per row
    (the call and the caller's loop cost about a fifth of a Python copy's time)."""
    out = [
        f"def {name}(batch):",
        "    out = []",
        "    ap = out.append",
        "    bad = []",
        "    for values in batch:",
    ]
    for line in fn[1:]:
        line = _REJECT.sub(r"bad.append((values, R(\1))); continue", line)
        stripped = line.lstrip()
        if stripped.startswith("return "):
            indent = line[: len(line) - len(stripped)]
            line = f"{indent}ap({stripped[len('return ') :]}); continue"
        out.append("    " + line)
    out.append("    return out, bad")
    return out


def _constant_safe(spec: FieldSpec) -> bool:
    """Whether a text field only ever yields mapping constants that need no COPY escaping."""
    names: list[str]
    if spec.rule == "tier":
        names = list((spec.thresholds or DEFAULT_TIERS).keys())
    elif spec.lookup is not None:
        names = [str(v) for v in (*spec.lookup.values(), spec.default) if v is not None]
    else:
        return False
    return all(COPY_NEEDS_ESCAPE.search(n) is None for n in names)


_CASE = {
    "trim": "v.strip(' ')",
    "lower": "(v.lower() if v.isascii() else _lower(v))",
    "upper": "(v.upper() if v.isascii() else _upper(v))",
}
_WHOLE = {
    "floor": "v // 100",
    "ceil": "-((-v) // 100)",
    "half-up": "(v + 50) // 100",
    "truncate": "(-((-v) // 100) if v < 0 else v // 100)",
}


def _field_code(
    k: int, name: str, spec: FieldSpec, var: str, mapping: Mapping, consts: dict[str, Any]
) -> list[str]:
    """Straight-line code computing output `o{k}` from source variable `var`."""
    lines = [f"    v = {var}"]
    src_kind = mapping.source.columns[spec.source]
    if spec.cast == "text" and src_kind != "text":
        lines.append("    if v is not None: v = str(v)")
    elif spec.cast == "integer" and src_kind == "text":
        lines += [
            "    if v is not None and v != '':",
            "        w = _int(v)",
            f"        if w is None: return R({name!r} + ': ' + _q(v) + ' is not an integer')",
            "        v = w",
            "    elif v == '': v = None",
        ]
    if spec.required:
        lines.append(f"    if v is None or v == '': return R({name + ': missing (required)'!r})")
    lines += [f"    if v is not None: v = {_CASE[step]}" for step in spec.transform]
    lines += _check_code(k, name, spec, consts)
    if spec.lookup is not None:
        lines += _lookup_code(k, name, spec, src_kind, consts)
    if spec.rule == "tier":
        # the thresholds of cutover.program (or the mapping's), as a chain: tier_of() inlined
        ordered = sorted((spec.thresholds or DEFAULT_TIERS).items(), key=lambda kv: -kv[1])
        lines.append("    if v is not None:")
        for i, (tier, floor) in enumerate(ordered):
            lines.append(f"        {'if' if i == 0 else 'elif'} v >= {int(floor)}: v = {tier!r}")
        lines.append(f"        else: v = {ordered[-1][0]!r}")
    elif spec.rule == "redeem-cost":
        lines.append("    if v is not None: v = _redeem(v)")
    if spec.points is not None:
        whole = _WHOLE[mapping.rounding]
        if spec.points == "whole":
            lines.append(f"    if v is not None: v = {whole}")
        else:
            lines.append(f"    if v is not None: v = v - 100 * ({whole})")
    lines.append(f"    o{k} = v")
    return lines


def _check_code(k: int, name: str, spec: FieldSpec, consts: dict[str, Any]) -> list[str]:
    """The pattern, minimum and maximum checks of a field."""
    lines = []
    if spec.pattern is not None:
        const = f"P{k}"
        consts[const] = re.compile(spec.pattern, re.ASCII)
        lines.append(
            f"    if v is not None and {const}.search(v) is None: "
            f"return R({name!r} + ': ' + _q(v) + ' does not match the pattern')"
        )
    if spec.min is not None:
        lines.append(
            f"    if v is not None and v < {spec.min}: "
            f"return R({name!r} + ': ' + str(v) + ' is below the minimum {spec.min}')"
        )
    if spec.max is not None:
        lines.append(
            f"    if v is not None and v > {spec.max}: "
            f"return R({name!r} + ': ' + str(v) + ' is above the maximum {spec.max}')"
        )
    return lines


def _lookup_code(
    k: int, name: str, spec: FieldSpec, src_kind: str, consts: dict[str, Any]
) -> list[str]:
    """A lookup: its default for a key not in it, or a reject without one."""
    assert spec.lookup is not None
    const = f"L{k}"
    consts[const] = dict(spec.lookup)
    key = "v" if src_kind == "text" or spec.cast == "text" else "str(v)"
    lines = ["    if v is not None:", f"        w = {const}.get({key}, _MISSING)"]
    if spec.default is not None:
        consts[f"D{k}"] = spec.default
        lines.append(f"        v = D{k} if w is _MISSING else w")
    else:
        lines += [
            f"        if w is _MISSING: return R({name!r} + ': ' + _q(v) + ' is not in the lookup')",
            "        v = w",
        ]
    return lines
