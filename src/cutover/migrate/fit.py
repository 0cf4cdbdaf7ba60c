"""Whether a store's columns fit a mapping: the one rule the migrate step and `validate --connect` share.

`source_drift` compares a source table's (or a feed header's) columns with the
mapping's `source.columns`; `target_misfits` an existing target table's with what the
mapping makes. `Migration.open` refuses a job on any of them (one line, exit 2);
`cutover validate --connect` reports each at its line in the mapping file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cutover.migrate.mapping import Mapping


@dataclass
class Drift:
    """How a source's columns differ from the mapping's `source.columns`."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    types: list[tuple[str, str, str]] = field(default_factory=list)
    """(column, the store's type, the mapping's type)."""

    def __bool__(self) -> bool:
        return bool(self.missing or self.extra or self.types)

    def parts(self) -> list[str]:
        """The differences as the migrate step words them."""
        out = []
        if self.missing:
            out.append("missing " + ", ".join(repr(c) for c in self.missing))
        if self.extra:
            out.append("not in the mapping " + ", ".join(repr(c) for c in self.extra))
        out += [
            f"{name!r} is {actual}, the mapping says {kind}" for name, actual, kind in self.types
        ]
        return out


def type_fits(actual: str | None, kind: str) -> bool:
    """Whether a store column of type `actual` holds a source column declared `kind`
    (a `cents` column may be a number or text: it is parsed; text has no types: None)."""
    return actual is None or actual == kind or (kind == "cents" and actual in ("text", "numeric"))


def source_drift(columns: dict[str, str | None], mapping: Mapping, *, feed: bool = False) -> Drift:
    """A source's columns (name -> normalised type, None for a feed's header) against the
    mapping's; a feed may also have the change column (`source.operation`)."""
    expected = mapping.source.columns
    op = mapping.source.operation if feed else None
    drift = Drift()
    drift.missing = [c for c in expected if c not in columns]
    drift.extra = [c for c in columns if c not in expected and (op is None or c != op.column)]
    drift.types = [
        (name, str(columns[name]), kind)
        for name, kind in expected.items()
        if name in columns and not type_fits(columns[name], kind)
    ]
    return drift


def target_misfits(columns: dict[str, str], mapping: Mapping) -> dict[str, str]:
    """Target column -> what is wrong with it, for an existing target table."""
    out = {}
    for name, kind in mapping.output_types.items():
        actual = columns.get(name)
        if actual is None:
            out[name] = f"missing {name!r}"
        elif actual != kind:
            out[name] = f"{name!r} is {actual}, the mapping makes {kind}"
    return out
