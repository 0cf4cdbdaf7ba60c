"""A mapping compiled to SQL: one expression per target column and a reject-reason `CASE`.

The same meaning as the Python side (`python_transform`), in any engine's dialect: both
reject the same rows for the same reason and produce the same values;
`tests/migrate/test_transform.py` holds them to it. The engine's spellings (trim,
case folding, regular expressions, literals) come from its `SqlDialect`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cutover import program
from cutover.migrate.mapping import DEFAULT_TIERS, FieldSpec, Mapping
from cutover.migrate.stores.dialect import Dialect, SqlDialect, dialect_named, ident


@dataclass(frozen=True)
class SqlTransform:
    """The mapping as SQL over a source row aliased `s`: one expression per target column,
    and `reason`, NULL for a clean row, else why it is rejected."""

    columns: list[str]
    exprs: list[str]
    reason: str


def compile_sql(mapping: Mapping, dialect: Dialect | SqlDialect, alias: str = "s") -> SqlTransform:
    d = dialect_named(dialect)
    exprs: list[str] = []
    reasons: list[str] = []
    for name, spec in mapping.fields.items():
        expr, conds = _field_sql(name, spec, f"{alias}.{ident(spec.source)}", mapping, d)
        exprs.append(expr)
        reasons += conds
    reason = "CASE " + " ".join(reasons) + " END" if reasons else "CAST(NULL AS TEXT)"
    return SqlTransform(list(mapping.fields), exprs, reason)


def _text(expr: str) -> str:
    return f"CAST({expr} AS TEXT)"


def _field_sql(
    name: str, spec: FieldSpec, col: str, mapping: Mapping, d: SqlDialect
) -> tuple[str, list[str]]:
    """One target column's expression and the `WHEN ... THEN reason` arms it adds."""
    conds: list[str] = []
    v = col
    src_kind = mapping.source.columns[spec.source]
    textual = src_kind == "text" or spec.cast == "text"
    if spec.cast == "text" and src_kind != "text":
        v = _text(v)
    if spec.required:
        blank = f"{v} = ''" if textual else "FALSE"
        conds.append(f"WHEN {v} IS NULL OR {blank} THEN {d.literal(name + ': missing (required)')}")
    for step in spec.transform:
        v = d.trim(v) if step == "trim" else d.fold_case(step, v)
    conds += _checks(name, spec, v, d)
    if spec.lookup is not None:
        v = _lookup(name, spec, v if textual else _text(v), conds, d)
    if spec.rule == "tier":
        thresholds = spec.thresholds or DEFAULT_TIERS
        ordered = sorted(thresholds.items(), key=lambda kv: kv[1], reverse=True)
        whens = " ".join(f"WHEN {v} >= {floor} THEN {d.literal(n)}" for n, floor in ordered)
        v = f"(CASE WHEN {v} IS NULL THEN NULL {whens} ELSE {d.literal(ordered[-1][0])} END)"
    elif spec.rule == "redeem-cost":
        whens = " ".join(f"WHEN {v} <= {price} THEN {cost}" for price, cost in program.REDEEM_TIERS)
        v = f"(CASE WHEN {v} IS NULL THEN NULL {whens} ELSE {program.REDEEM_TOP_COST_CENTS} END)"
    if spec.points is not None:
        whole = whole_sql(v, mapping.rounding, d)
        v = whole if spec.points == "whole" else f"({v} - 100 * {whole})"
    return v, conds


def _checks(name: str, spec: FieldSpec, v: str, d: SqlDialect) -> list[str]:
    """The pattern, minimum and maximum checks of a field, as reject arms."""
    conds = []
    if spec.pattern is not None:
        pat = d.literal(spec.pattern)
        conds.append(
            f"WHEN {v} IS NOT NULL AND NOT ({d.matches(v, pat)}) THEN "
            f"{d.literal(name + ': ')} || {d.quote(v)} || ' does not match the pattern'"
        )
    if spec.min is not None:
        conds.append(
            f"WHEN {v} < {spec.min} THEN {d.literal(name + ': ')} || {_text(v)} || "
            f"{d.literal(f' is below the minimum {spec.min}')}"
        )
    if spec.max is not None:
        conds.append(
            f"WHEN {v} > {spec.max} THEN {d.literal(name + ': ')} || {_text(v)} || "
            f"{d.literal(f' is above the maximum {spec.max}')}"
        )
    return conds


def _lookup(name: str, spec: FieldSpec, key: str, conds: list[str], d: SqlDialect) -> str:
    """A lookup's value; without a default, a key not in it adds a reject arm to `conds`."""
    assert spec.lookup is not None
    if spec.default is not None:
        arms = " ".join(
            f"WHEN {key} = {d.literal(k)} THEN {d.literal(val)}" for k, val in spec.lookup.items()
        )
        return f"(CASE WHEN {key} IS NULL THEN NULL {arms} ELSE {d.literal(spec.default)} END)"
    keys = ", ".join(d.literal(k) for k in spec.lookup)
    whens = " ".join(f"WHEN {d.literal(k)} THEN {d.literal(val)}" for k, val in spec.lookup.items())
    conds.append(
        f"WHEN {key} IS NOT NULL AND {key} NOT IN ({keys}) THEN "
        f"{d.literal(name + ': ')} || {d.quote(key)} || ' is not in the lookup'"
    )
    return f"(CASE {key} {whens} END)"


def whole_sql(v: str, rounding: str, dialect: Dialect | SqlDialect) -> str:
    """Whole points of a centipoint expression, as SQL, under a rounding policy."""
    d = dialect_named(dialect)
    if rounding == "floor":
        return f"(({v} - {d.mod_100(v)}) / 100)"
    if rounding == "ceil":
        neg = f"(-{v})"
        return f"(-(({neg} - {d.mod_100(neg)}) / 100))"
    if rounding == "half-up":
        up = f"({v} + 50)"
        return f"(({up} - {d.mod_100(up)}) / 100)"
    return f"({v} / 100)"  # truncate: integer division truncates in both engines
