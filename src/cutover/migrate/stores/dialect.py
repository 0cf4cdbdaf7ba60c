"""The SQL each engine spells its own way, as one strategy object per engine: SQLite, PostgreSQL.

The data plane builds its statements from these pieces (a literal, key membership, a
distinct-from comparison, a row as JSON, the checksum text and its hash) and never
asks which engine it talks to: `Database.dialect` is a store's strategy, and
`dialect_named` finds one by name (a mapping is compiled to SQL before any store is
open). Pure text, no driver: importing this never loads psycopg.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import ClassVar, Literal

Dialect = Literal["postgresql", "sqlite"]
NULL = "\\N"
"""NULL in checksum text (as in COPY text)."""


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def md5_text(joined: str | None) -> str | None:
    """MD5 of an already joined chunk text (None for a chunk without rows)."""
    if joined is None:
        return None
    return hashlib.md5(joined.encode(), usedforsecurity=False).hexdigest()


def md5_lines(lines: Iterable[str]) -> str | None:
    """MD5 of lines joined by newlines, as PostgreSQL's md5(string_agg(...)); None if none."""
    items = list(lines)
    return md5_text("\n".join(items)) if items else None


class SqlDialect(ABC):
    """How one engine spells what the data plane needs; one instance per engine."""

    name: ClassVar[Dialect]
    ph: ClassVar[str]
    """The driver's parameter placeholder."""
    integer_type: ClassVar[str]
    embedded: ClassVar[bool]
    """The engine runs inside this process (SQLite): one writer at a time, and its
    allocator takes one lock per process, so two threads both in it queue on each other
    instead of running together."""
    defers_key: ClassVar[bool]
    """A bulk load creates the table without its primary key and adds it at the end (as
    pg_restore does); a table found without it is fine, the copy adds it."""
    hashes: ClassVar[bool]
    """The engine computes MD5 itself (else it joins the text and Python hashes it)."""
    for_update: ClassVar[str]
    """What locks the rows a SELECT reads until the transaction ends ('' where one writer
    at a time holds the whole store)."""
    now: ClassVar[str]
    """The engine's clock in Unix seconds, as SQL."""

    def __str__(self) -> str:
        return self.name

    # ------------------------------------------------------------ transform
    def literal(self, value: str | int) -> str:
        """A SQL literal."""
        if isinstance(value, int):
            return str(value)
        return "'" + value.replace("'", "''") + "'"

    @abstractmethod
    def quote(self, expr: str) -> str:
        """A value quoted as a SQL literal, for reject reasons."""

    @abstractmethod
    def trim(self, expr: str) -> str:
        """Spaces stripped from both ends."""

    @abstractmethod
    def fold_case(self, function: str, expr: str) -> str:
        """`lower` or `upper`, changing ASCII letters only."""

    @abstractmethod
    def matches(self, expr: str, pattern: str) -> str:
        """Whether text matches a regular expression (`pattern` is a SQL literal)."""

    @abstractmethod
    def mod_100(self, expr: str) -> str:
        """`expr` modulo 100, never negative (floor division's remainder)."""

    # ------------------------------------------------------------ comparing
    @abstractmethod
    def distinct_from(self, left: str, right: str) -> str:
        """True when two values differ, NULL counting as a value."""

    def bytewise(self, expr: str) -> str:
        """A text operand compared byte by byte."""
        return expr

    def key_order(self, key: str, key_is_text: bool) -> str:
        """ORDER BY / comparison expression for a key: bytewise for text on every engine."""
        return ident(key)

    def among(self, select: str) -> str:
        """Membership in the keys a parenthesised subquery returns (`x <this>`)."""
        return f"IN {select}"

    @abstractmethod
    def row_json(self, columns: Sequence[str], alias: str = "s") -> str:
        """A source row (of table alias `alias`) as JSON text, for the reject record."""

    # ------------------------------------------------------------ checksums
    def row_text(self, exprs: Sequence[str], cents: Sequence[str]) -> str:
        """A row as text, in SQL: projection joined by |, then # and the centipoints joined by :."""
        parts = " || '|' || ".join(f"coalesce(CAST({e} AS TEXT), '{NULL}')" for e in exprs)
        if cents:
            parts += " || '#' || " + " || ':' || ".join(
                f"coalesce(CAST({c} AS TEXT), '{NULL}')" for c in cents
            )
        return parts

    @abstractmethod
    def digest_agg(self, text: str) -> str:
        """An aggregate over rows' text in their order: the MD5 (or, see `hashes`, the
        joined text `digest` turns into it)."""

    def digest(self, value: str | None) -> str | None:
        """What `digest_agg` returned, as the MD5 hex digest."""
        return value


class SqliteDialect(SqlDialect):
    name: ClassVar[Dialect] = "sqlite"
    ph: ClassVar[str] = "?"
    integer_type: ClassVar[str] = "INTEGER"
    embedded: ClassVar[bool] = True
    defers_key: ClassVar[bool] = False
    hashes: ClassVar[bool] = False
    for_update: ClassVar[str] = ""
    now: ClassVar[str] = "(julianday('now') - 2440587.5) * 86400.0"
    printf_max_args: ClassVar[int] = 100
    """SQLite's printf takes at most 127 arguments: wider rows are joined with ||."""

    def quote(self, expr: str) -> str:
        return f"quote({expr})"

    def trim(self, expr: str) -> str:
        return f"trim({expr}, ' ')"

    def fold_case(self, function: str, expr: str) -> str:
        return f"{function}({expr})"  # SQLite's lower/upper touch ASCII only, like ours

    def matches(self, expr: str, pattern: str) -> str:
        return f"regexp({pattern}, {expr})"

    def mod_100(self, expr: str) -> str:
        return f"((({expr}) % 100) + 100) % 100"

    def distinct_from(self, left: str, right: str) -> str:
        return f"{left} IS NOT {right}"

    def bytewise(self, expr: str) -> str:
        return f"{expr} COLLATE BINARY"

    def row_json(self, columns: Sequence[str], alias: str = "s") -> str:
        pairs = ", ".join(f"'{c}', {alias}.{ident(c)}" for c in columns)
        return f"json_object({pairs})"

    def row_text(self, exprs: Sequence[str], cents: Sequence[str]) -> str:
        if len(exprs) + len(cents) > self.printf_max_args:
            return super().row_text(exprs, cents)
        # one printf builds the same text ~2.5x faster than a chain of || and CASTs
        # (printf's %s renders a value as CAST(... AS TEXT) does)
        fmt = "|".join(["%s"] * len(exprs)) + ("#" + ":".join(["%s"] * len(cents)) if cents else "")
        args = ", ".join(f"coalesce({e}, '{NULL}')" for e in [*exprs, *cents])
        return f"printf('{fmt}', {args})"

    def digest_agg(self, text: str) -> str:
        return f"group_concat({text}, char(10))"  # SQLite has no MD5: Python hashes the text

    def digest(self, value: str | None) -> str | None:
        return md5_text(value)


class PostgresDialect(SqlDialect):
    name: ClassVar[Dialect] = "postgresql"
    ph: ClassVar[str] = "%s"
    integer_type: ClassVar[str] = "BIGINT"
    embedded: ClassVar[bool] = False
    defers_key: ClassVar[bool] = True
    hashes: ClassVar[bool] = True
    for_update: ClassVar[str] = " FOR UPDATE"
    now: ClassVar[str] = "extract(epoch FROM clock_timestamp())"

    def literal(self, value: str | int) -> str:
        """As SQL's, with `%` doubled: psycopg reads the text for placeholders."""
        if isinstance(value, int):
            return str(value)
        return "'" + value.replace("'", "''").replace("%", "%%") + "'"

    def quote(self, expr: str) -> str:
        return f"quote_literal({expr})"

    def trim(self, expr: str) -> str:
        return f"btrim({expr}, ' ')"

    def fold_case(self, function: str, expr: str) -> str:
        return f'{function}({expr} COLLATE "C")'  # the C collation changes ASCII letters only

    def matches(self, expr: str, pattern: str) -> str:
        return f'{expr} COLLATE "C" ~ {pattern}'

    def mod_100(self, expr: str) -> str:
        return f"mod(mod({expr}, 100) + 100, 100)"

    def distinct_from(self, left: str, right: str) -> str:
        return f"{left} IS DISTINCT FROM {right}"

    def key_order(self, key: str, key_is_text: bool) -> str:
        return f'{ident(key)} COLLATE "C"' if key_is_text else ident(key)

    def among(self, select: str) -> str:
        # `= ANY(ARRAY(...))` computes the keys once and probes the key index (an
        # `IN (subquery)` may be planned as a scan of the whole source per batch)
        return f"= ANY (ARRAY{select})"

    def row_json(self, columns: Sequence[str], alias: str = "s") -> str:
        return f"row_to_json({alias})::text"

    def digest_agg(self, text: str) -> str:
        return f"md5(string_agg({text}, E'\\n'))"


SQLITE = SqliteDialect()
POSTGRESQL = PostgresDialect()
_BY_NAME: dict[str, SqlDialect] = {d.name: d for d in (SQLITE, POSTGRESQL)}


def dialect_named(dialect: Dialect | SqlDialect) -> SqlDialect:
    """The strategy of an engine named as in `Database.dialect.name` (or the strategy itself)."""
    return dialect if isinstance(dialect, SqlDialect) else _BY_NAME[dialect]
