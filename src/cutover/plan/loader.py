"""YAML loading that remembers the line of every value, so every error reads FILE:LINE.

PyYAML composes the document into nodes (which carry their marks); we walk the
nodes ourselves, building plain Python values and a `SourceMap` from each value's
path (`("systems", 3, "steps", 0, "mode")`) to its line. The walk counts nodes,
so an alias bomb ("billion laughs") is refused after a bounded amount of work,
and refuses duplicate keys, which PyYAML would silently collapse.
"""

from __future__ import annotations

import difflib
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from cutover.errors import PlanError, Problem
from cutover.plan.types import PATTERN_WORDS

MAX_BYTES = 5 * 1024 * 1024
"""Largest plan file accepted. A plan for hundreds of systems is a few hundred KB."""

MAX_NODES = 200_000
"""Most values a document may expand to (aliases included): refuses alias bombs."""

PathKey = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""The C loader composes ~10x faster; the pure-Python one is the fallback."""


@dataclass
class SourceMap:
    """Where each value of a loaded document came from."""

    file: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: Sequence[str | int]) -> int:
        """Line of the value at `path`, or of its nearest ancestor that has one."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), 1)

    def key_line(self, path: Sequence[str | int]) -> int:
        """Line of the key that introduces `path` (for 'unknown key' messages)."""
        return self.lines.get(("#key", *path), self.line(path))

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        return Problem(self.file, self.line(path), message)


@dataclass
class Document:
    """A loaded YAML document: the plain data and where each value came from."""

    data: Any
    source: SourceMap


_PLAIN_COLLECTIONS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _Walker:
    def __init__(self, loader: yaml.SafeLoader, source: SourceMap) -> None:
        self.loader = loader
        self.source = source
        self.count = 0

    def walk(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise PlanError.single(
                self.source.file,
                node.start_mark.line + 1,
                f"document expands to more than {MAX_NODES:,} values "
                "(aliases nested too deep?); refused",
            )
        self.source.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_COLLECTIONS:
            raise PlanError.single(
                self.source.file,
                node.start_mark.line + 1,
                f"the YAML tag {node.tag!r} is not allowed; write plain YAML",
            )
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.walk_key(key_node)
                if key in result:
                    raise PlanError.single(
                        self.source.file,
                        key_node.start_mark.line + 1,
                        f"duplicate key {key!r} (first at line "
                        f"{self.source.lines.get((*path, key), '?')})",
                    )
                self.source.lines[("#key", *path, key)] = key_node.start_mark.line + 1
                self.source.lines.setdefault((*path, key), value_node.start_mark.line + 1)
                result[key] = self.walk(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.construct(node)

    def construct(self, node: yaml.Node) -> Any:
        """A scalar's value; an integer over Python's digit limit is one line, not a crash."""
        try:
            return self.loader.construct_object(node)
        except ValueError as exc:
            if "digits" not in str(exc):
                raise
            raise PlanError.single(
                self.source.file,
                node.start_mark.line + 1,
                f"a number with more than {sys.get_int_max_str_digits():,} digits; refused",
            ) from None

    def walk_key(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise PlanError.single(
                self.source.file, node.start_mark.line + 1, "a key must be plain text"
            )
        key = self.construct(node)
        return key if isinstance(key, str | int) else str(key)


FIRST_KEY = {"plan": "name", "mapping": "source", "carry-back": "tables", "faults": "faults"}
"""Each kind of YAML file a user names, and the key it starts with (for an empty file)."""


def read_file(path: str | Path, kind: str, limit: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file at `path`, refused over `limit`: the one reader of every
    file a user names (plans, mappings, carry-backs, faults files). A FIFO, a device such
    as /dev/zero, a socket or a directory is refused before a byte is read; PlanError."""
    name, what = str(path), _noun(kind)
    try:  # non-blocking: opening a FIFO must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PlanError.single(name, 1, "no such file") from None
    except PermissionError:
        raise PlanError.single(name, 1, "cannot read the file (permission denied)") from None
    except OSError as exc:  # a symlink loop, a name too long, ...
        raise PlanError.single(name, 1, f"cannot open the file ({exc.strerror})") from None
    mode = os.fstat(fd).st_mode  # of what was opened: no swap between a check and the read
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise PlanError.single(name, 1, f"is a directory, not a {kind} file")
        raise PlanError.single(
            name, 1, f"is not a regular file (a device, FIFO or socket); a {what} is a file"
        )
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        size = max(len(raw), Path(path).stat().st_size)
        raise PlanError.single(
            name,
            1,
            f"file is {size / 1048576:.1f} MiB, over the {limit // 1048576} MiB "
            f"limit for a {what}; split it or remove generated bulk",
        )
    return raw


def _noun(kind: str) -> str:
    return "plan" if kind == "plan" else f"{kind} file"


def load_yaml(path: str | Path, *, text: str | None = None, kind: str = "plan") -> Document:
    """Read one YAML document with a line for every value; PlanError when unreadable.

    `kind` (a key of FIRST_KEY) names the file the user meant, in messages."""
    name = str(path)
    if text is None:
        raw = read_file(path, kind)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise PlanError.single(name, line, "not UTF-8 text") from None
    elif len(text.encode()) > MAX_BYTES:
        raise PlanError.single(name, 1, f"document is over the size limit for a {_noun(kind)}")

    source = SourceMap(name)
    loader = _BaseLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise PlanError.single(
                name, 1, f"the file is empty; a {_noun(kind)} starts with `{FIRST_KEY[kind]}:`"
            )
        data = _Walker(loader, source).walk(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise PlanError.single(name, line, _one_line(f"invalid YAML: {what}{context}")) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        what = "a control character" if exc.character in range(32) else "a character"
        raise PlanError.single(
            name, line, f"invalid YAML: {what} (#x{exc.character:04x}) YAML does not allow"
        ) from None
    except yaml.YAMLError as exc:
        raise PlanError.single(name, 1, _one_line(f"invalid YAML: {exc}")) from None
    except RecursionError:
        raise PlanError.single(name, 1, "document nests too deeply; refused") from None
    finally:
        loader.dispose()
    return Document(data, source)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def describe_loc(loc: Sequence[str | int]) -> str:
    """`("systems", 3, "steps", 0, "mode")` -> `systems[3].steps[0].mode`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def _data_path(data: Any, loc: Sequence[str | int]) -> list[str | int]:
    """Keep only the parts of a pydantic error location that exist in the data.

    Pydantic adds union tags (`freeze`) and validator names to locations; they
    are not keys of the document, so they are dropped to find the line.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node.__getitem__(part)
        elif isinstance(node, dict | list):
            continue
        else:
            break
        path.append(part)
    return path


def _model_keys(model: type[BaseModel], data: Any, loc: Sequence[str | int]) -> list[str]:
    """The keys allowed where an unknown key was found, for a 'did you mean' hint."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return []
        info = fields.get(part)
        if info is None:
            # a union tag such as 'freeze' names the member model
            return []
        current = _inner_model(info.annotation)
    fields = getattr(current, "model_fields", {})
    return [info.alias or name for name, info in fields.items()]


def _inner_model(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def validation_problems(
    exc: ValidationError, doc: Document, model: type[BaseModel]
) -> list[Problem]:
    """Translate pydantic's errors into `FILE:LINE: message` problems."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = [p for p in error["loc"] if isinstance(p, str | int)]
        path = _data_path(doc.data, loc)
        where = describe_loc(path) if path else describe_loc(loc)
        kind = error["type"]
        if kind == "extra_forbidden":
            key = loc[-1] if loc else "?"
            allowed = _model_keys(model, doc.data, loc)
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            message = f"{where}: unknown key" + (f"; did you mean {hint[0]!r}?" if hint else "")
            line = doc.source.key_line(path)
        elif kind == "missing":
            parent = describe_loc(path) if path else "(top level)"
            message = f"{parent}: missing required key {loc[-1]!r}"
            line = doc.source.line(path)
        elif kind == "union_tag_invalid":
            ctx = error.get("ctx", {})
            message = f"{where}: unknown step {ctx.get('tag')!r}; use {ctx.get('expected_tags')}"
            line = doc.source.line(path)
        elif kind == "union_tag_not_found":
            message = f"{where}: missing `step:` (freeze, migrate, verify, switch, unfreeze, http)"
            line = doc.source.line(path)
        elif kind == "string_pattern_mismatch" and error["ctx"]["pattern"] in PATTERN_WORDS:
            message = f"{where}: {PATTERN_WORDS[error['ctx']['pattern']]}"
            line = doc.source.line(path)
        else:
            msg = error["msg"].removeprefix("Value error, ")
            message = f"{where}: {msg}"
            line = doc.source.line(path)
        problems.append(Problem(doc.source.file, line, message))
    return _without_misspelt_missing(problems)


def _without_misspelt_missing(problems: list[Problem]) -> list[Problem]:
    """`x: missing required key 'department'` beside `x.departmnt: unknown key; did you
    mean 'department'?` says one thing twice: keep the second, which says how to fix it."""
    meant = set()
    for p in problems:
        if "unknown key; did you mean " in p.message:
            where = p.message.split(": unknown key")[0]
            parent = where.rsplit(".", 1)[0] if "." in where else "(top level)"
            meant.add((parent, p.message.rsplit("did you mean ", 1)[1].rstrip("?")))
    return [
        p
        for p in problems
        if not (
            ": missing required key " in p.message
            and tuple(p.message.split(": missing required key ", 1)) in meant
        )
    ]


def parse_model(doc: Document, model: type[M], *, what: str = "plan") -> M:
    """Validate a loaded document into `model`, or raise PlanError with every problem."""
    if not isinstance(doc.data, dict):
        kind = "a list" if isinstance(doc.data, list) else f"a {type(doc.data).__name__}"
        raise PlanError.single(
            doc.source.file, 1, f"the top level is {kind}; a {what} is a mapping of keys"
        )
    fields = [info.alias or name for name, info in model.model_fields.items()]
    known = set(fields)
    if doc.data and known and not known & set(doc.data):
        keys = ", ".join(repr(k) for k in list(doc.data)[:3])
        first = FIRST_KEY.get(what.removesuffix(" file"), fields[0])
        raise PlanError.single(
            doc.source.file,
            1,
            f"not a {what}: none of its keys ({keys}) is one; a {what} starts with `{first}:`",
        )
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise PlanError(validation_problems(exc, doc, model)) from None
