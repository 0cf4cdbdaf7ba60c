"""A mapping compiled twice: to a Python function and to SQL, with one meaning for both.

The Python side is generated source (one straight-line function per mapping), so a
row costs a few microseconds; the SQL side is a select list and a reject-reason
`CASE`, for PostgreSQL and SQLite. Both reject the same rows for the same reason
and produce the same values; `tests/migrate/test_transform.py` holds them to it.
`lower`/`upper` change ASCII letters only, so every engine agrees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from cutover import program
from cutover.migrate.mapping import DEFAULT_TIERS, Mapping
from cutover.plan.mapping import FieldSpec

Dialect = Literal["postgresql", "sqlite"]
Row = tuple[Any, ...]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_COPY_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_COPY_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


class Reject(str):
    """A transform's answer for a row that fails cleansing: the reason, in plain words."""

    __slots__ = ()


def lower_ascii(value: str) -> str:
    return value.lower() if value.isascii() else value.translate(_ASCII_LOWER)


def upper_ascii(value: str) -> str:
    return value.upper() if value.isascii() else value.translate(_ASCII_UPPER)


def quote(value: object) -> str:
    """A value quoted as SQL's quote()/quote_literal() does, for reject reasons."""
    return "'" + str(value).replace("'", "''") + "'"


def copy_escape(value: str) -> str:
    """Escape text for PostgreSQL COPY text format."""
    if _COPY_NEEDS_ESCAPE.search(value) is None:
        return value
    return _COPY_NEEDS_ESCAPE.sub(lambda m: _COPY_ESCAPES[m.group(0)], value)


def parse_cents(text: str) -> int | None:
    """'123.45' -> 12345, exactly; None when it is not a number with at most 2 decimals."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    scaled = number * 100
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def parse_int(text: str) -> int | None:
    """A strict decimal integer ('12', '-3'); None for anything else ('1.0', '1_000', '')."""
    body = text.strip()
    digits = body[1:] if body[:1] in "+-" else body
    if not digits or not digits.isascii() or not digits.isdecimal():
        return None
    return int(body)


def whole_points(cents: int, rounding: str) -> int:
    """Whole points of `cents` under a rounding policy (the remainder is cents - 100 * this)."""
    if rounding == "floor":
        return cents // 100
    if rounding == "ceil":
        return -((-cents) // 100)
    if rounding == "half-up":
        return (cents + 50) // 100
    return -((-cents) // 100) if cents < 0 else cents // 100  # truncate


def tier_of(lifetime_cents: int, thresholds: dict[str, int] | None) -> str:
    if thresholds is None or thresholds == DEFAULT_TIERS:
        return program.tier_for(lifetime_cents)
    ordered = sorted(thresholds.items(), key=lambda kv: kv[1], reverse=True)
    for name, floor in ordered:
        if lifetime_cents >= floor:
            return name
    return ordered[-1][0]


def redeem_cost(price_cents: int) -> int:
    return program.redeem_cost_cents(program.TARGET, price_cents)


# ------------------------------------------------------------------- Python side


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
    src_cols = mapping.source_columns
    index = {name: i for i, name in enumerate(src_cols)}
    body: list[str] = []
    for k, (name, spec) in enumerate(mapping.fields.items()):
        body += _field_code(k, name, spec, f"c{index[spec.source]}", mapping, consts)
    outs = ", ".join(f"o{k}" for k in range(len(mapping.fields)))
    ret = f"    return ({outs},)"
    unpack = ", ".join(f"c{i}" for i in range(len(src_cols))) + ","

    row_fn = ["def row(values):", f"    {unpack} = values"]
    for i, name in enumerate(src_cols):
        if mapping.source.columns[name] == "cents":  # a database keeps these as text or numeric
            row_fn += [
                f"    if c{i} is not None and c{i}.__class__ is not int:",
                f"        if (v := _cents(str(c{i}))) is None: return R({name!r} + ': ' + _q(c{i}) + ' is not a number with at most 2 decimals')",
                f"        c{i} = v",
            ]
    row_fn += [*body, ret]

    csv_fn = ["def csv(fields):", f"    {unpack} = fields"]
    for i, name in enumerate(src_cols):
        kind = mapping.source.columns[name]
        csv_fn.append(f"    if c{i} == '': c{i} = None")
        if kind == "integer":
            csv_fn += [
                f"    elif (v := _int(c{i})) is None: return R({name!r} + ': ' + _q(c{i}) + ' is not an integer')",
                f"    else: c{i} = v",
            ]
        elif kind == "cents":
            csv_fn += [
                f"    elif (v := _cents(c{i})) is None: return R({name!r} + ': ' + _q(c{i}) + ' is not a number with at most 2 decimals')",
                f"    else: c{i} = v",
            ]
    csv_fn += [*body, ret]

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
    emit = [f"    if {' and '.join(checks)}:", f'        return f"{fast}"', f"    return {joined}"]
    row_copy_fn = ["def row_copy(values):", *row_fn[1:-1], *emit]
    fmt_fn = ["def format_copy(out):", f"    {outs}, = out", *emit]

    # verification text: projection joined by |, NULL as \N, then # and the centipoints
    # (source: the legacy value; target: whole * 100 + remainder) joined by :
    def text_of(values: list[str], cents: list[str]) -> list[str]:
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

    pair_src = [f"c{index[p.source]}" for p in mapping.points_pairs]
    row_text_fn = ["def row_text(values):", *row_fn[1:-1]]
    row_text_fn += text_of([f"o{k}" for k in range(len(mapping.fields))], pair_src)
    targets = list(mapping.fields)
    pair_new = [f"n{i}" for i in range(len(mapping.points_pairs))]
    target_text_fn = ["def target_text(out):", f"    {outs}, = out"]
    for i, pair in enumerate(mapping.points_pairs):
        w, r = f"o{targets.index(pair.whole)}", f"o{targets.index(pair.remainder)}"
        target_text_fn.append(f"    n{i} = None if {w} is None or {r} is None else {w} * 100 + {r}")
    target_text_fn += text_of([f"o{k}" for k in range(len(mapping.fields))], pair_new)

    source = "\n".join(
        [
            *row_fn,
            "",
            *_batched("rows", row_fn),
            "",
            *_batched("rows_copy", row_copy_fn),
            "",
            *csv_fn,
            "",
            *row_copy_fn,
            "",
            *fmt_fn,
            "",
            *row_text_fn,
            "",
            *target_text_fn,
            "",
        ]
    )
    namespace: dict[str, Any] = dict(consts)
    # generated from validated column names and counters only; values are passed as constants
    exec(compile(source, f"<mapping {mapping.name}>", "exec"), namespace)
    return Compiled(
        row=namespace["row"],
        rows=namespace["rows"],
        rows_copy=namespace["rows_copy"],
        csv=namespace["csv"],
        row_copy=namespace["row_copy"],
        format_copy=namespace["format_copy"],
        row_text=namespace["row_text"],
        target_text=namespace["target_text"],
        source=source,
    )


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
    return all(_COPY_NEEDS_ESCAPE.search(n) is None for n in names)


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
    for step in spec.transform:
        call = {
            "trim": "v.strip(' ')",
            "lower": "(v.lower() if v.isascii() else _lower(v))",
            "upper": "(v.upper() if v.isascii() else _upper(v))",
        }[step]
        lines.append(f"    if v is not None: v = {call}")
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
    if spec.lookup is not None:
        const = f"L{k}"
        consts[const] = dict(spec.lookup)
        key = "v" if src_kind == "text" or spec.cast == "text" else "str(v)"
        lines += ["    if v is not None:", f"        w = {const}.get({key}, _MISSING)"]
        if spec.default is not None:
            consts[f"D{k}"] = spec.default
            lines.append(f"        v = D{k} if w is _MISSING else w")
        else:
            lines += [
                f"        if w is _MISSING: return R({name!r} + ': ' + _q(v) + ' is not in the lookup')",
                "        v = w",
            ]
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
        whole = {
            "floor": "v // 100",
            "ceil": "-((-v) // 100)",
            "half-up": "(v + 50) // 100",
            "truncate": "(-((-v) // 100) if v < 0 else v // 100)",
        }[mapping.rounding]
        if spec.points == "whole":
            lines.append(f"    if v is not None: v = {whole}")
        else:
            lines.append(f"    if v is not None: v = v - 100 * ({whole})")
    lines.append(f"    o{k} = v")
    return lines


# ----------------------------------------------------------------------- SQL side


@dataclass(frozen=True)
class SqlTransform:
    """The mapping as SQL over a source row aliased `s`: one expression per target column,
    and `reason`, NULL for a clean row, else why it is rejected."""

    columns: list[str]
    exprs: list[str]
    reason: str


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str | int, dialect: Dialect = "sqlite") -> str:
    """A SQL literal; for PostgreSQL `%` is doubled, as psycopg reads the text for placeholders."""
    if isinstance(value, int):
        return str(value)
    text = value.replace("'", "''")
    if dialect == "postgresql":
        text = text.replace("%", "%%")
    return "'" + text + "'"


def compile_sql(mapping: Mapping, dialect: Dialect, alias: str = "s") -> SqlTransform:
    exprs: list[str] = []
    reasons: list[str] = []
    for name, spec in mapping.fields.items():
        expr, conds = _field_sql(name, spec, f"{alias}.{ident(spec.source)}", mapping, dialect)
        exprs.append(expr)
        reasons += conds
    reason = "CASE " + " ".join(reasons) + " END" if reasons else "CAST(NULL AS TEXT)"
    return SqlTransform(list(mapping.fields), exprs, reason)


def _text(expr: str) -> str:
    return f"CAST({expr} AS TEXT)"


def _floor_mod(expr: str, dialect: Dialect) -> str:
    if dialect == "postgresql":
        return f"mod(mod({expr}, 100) + 100, 100)"
    return f"((({expr}) % 100) + 100) % 100"


def _field_sql(
    name: str, spec: FieldSpec, col: str, mapping: Mapping, dialect: Dialect
) -> tuple[str, list[str]]:
    conds: list[str] = []
    quote_fn = "quote_literal" if dialect == "postgresql" else "quote"
    v = col
    src_kind = mapping.source.columns[spec.source]
    if spec.cast == "text" and src_kind != "text":
        v = _text(v)
    if spec.required:
        blank = f"{v} = ''" if (src_kind == "text" or spec.cast == "text") else "FALSE"
        conds.append(
            f"WHEN {v} IS NULL OR {blank} THEN {literal(name + ': missing (required)', dialect)}"
        )
    for step in spec.transform:
        if step == "trim":
            v = f"btrim({v}, ' ')" if dialect == "postgresql" else f"trim({v}, ' ')"
        elif dialect == "sqlite":
            v = f"{step}({v})"  # SQLite's lower/upper touch ASCII only, like ours
        else:
            v = f'{step}({v} COLLATE "C")'  # the C collation changes ASCII letters only
    if spec.pattern is not None:
        pat = literal(spec.pattern, dialect)
        test = f'{v} COLLATE "C" ~ {pat}' if dialect == "postgresql" else f"regexp({pat}, {v})"
        conds.append(
            f"WHEN {v} IS NOT NULL AND NOT ({test}) THEN "
            f"{literal(name + ': ', dialect)} || {quote_fn}({v}) || ' does not match the pattern'"
        )
    if spec.min is not None:
        conds.append(
            f"WHEN {v} < {spec.min} THEN {literal(name + ': ', dialect)} || {_text(v)} || "
            f"{literal(f' is below the minimum {spec.min}', dialect)}"
        )
    if spec.max is not None:
        conds.append(
            f"WHEN {v} > {spec.max} THEN {literal(name + ': ', dialect)} || {_text(v)} || "
            f"{literal(f' is above the maximum {spec.max}', dialect)}"
        )
    if spec.lookup is not None:
        key = v if (src_kind == "text" or spec.cast == "text") else _text(v)
        keys = ", ".join(literal(k, dialect) for k in spec.lookup)
        whens = " ".join(
            f"WHEN {literal(k, dialect)} THEN {literal(val, dialect)}"
            for k, val in spec.lookup.items()
        )
        if spec.default is not None:
            v = f"(CASE WHEN {key} IS NULL THEN NULL {' '.join(f'WHEN {key} = {literal(k, dialect)} THEN {literal(val, dialect)}' for k, val in spec.lookup.items())} ELSE {literal(spec.default, dialect)} END)"
        else:
            conds.append(
                f"WHEN {key} IS NOT NULL AND {key} NOT IN ({keys}) THEN "
                f"{literal(name + ': ', dialect)} || {quote_fn}({key}) || ' is not in the lookup'"
            )
            v = f"(CASE {key} {whens} END)"
    if spec.rule == "tier":
        thresholds = spec.thresholds or DEFAULT_TIERS
        ordered = sorted(thresholds.items(), key=lambda kv: kv[1], reverse=True)
        whens = " ".join(f"WHEN {v} >= {floor} THEN {literal(n, dialect)}" for n, floor in ordered)
        v = f"(CASE WHEN {v} IS NULL THEN NULL {whens} ELSE {literal(ordered[-1][0], dialect)} END)"
    elif spec.rule == "redeem-cost":
        whens = " ".join(f"WHEN {v} <= {price} THEN {cost}" for price, cost in program.REDEEM_TIERS)
        v = f"(CASE WHEN {v} IS NULL THEN NULL {whens} ELSE {program.REDEEM_TOP_COST_CENTS} END)"
    if spec.points is not None:
        whole = whole_sql(v, mapping.rounding, dialect)
        v = whole if spec.points == "whole" else f"({v} - 100 * {whole})"
    return v, conds


def whole_sql(v: str, rounding: str, dialect: Dialect) -> str:
    """Whole points of a centipoint expression, as SQL, under a rounding policy."""
    if rounding == "floor":
        return f"(({v} - {_floor_mod(v, dialect)}) / 100)"
    if rounding == "ceil":
        neg = f"(-{v})"
        return f"(-(({neg} - {_floor_mod(neg, dialect)}) / 100))"
    if rounding == "half-up":
        up = f"({v} + 50)"
        return f"(({up} - {_floor_mod(up, dialect)}) / 100)"
    return f"({v} / 100)"  # truncate: integer division truncates in both engines
