"""The fuzz corpus: bad input of every kind cutover reads, each with the answer it must get.

Each case writes its files into an empty folder and names the command to run there
(`argv`), or, for the control API, the request to send (`http`). `runner.py` runs a
kind's cases in one child process under a memory cap; `test_fuzz.py` checks each answer:
one line and exit 2 for files (nothing run, nothing written), the documented status for
the control API (nothing changed), the documented reject for a feed's bad line.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "plans"
DEMO = (PLANS / "demo.yaml").read_text()
HUGE = "9" * 5000


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # plan | mapping | faults | feed | feed-line | http
    build: Callable[[Path], Any]
    """Writes the case's files in the folder; returns argv (files), a request (http), or
    the bad line's bytes (feed-line)."""
    expect: Any = 2
    """Exit code (files), status (http), the reject's reason (feed-line)."""
    lines: int = 1
    """Lines of output: one per problem, and most cases have one."""
    notes: dict[str, Any] = field(default_factory=dict)


CASES: list[Case] = []


def case(
    kind: str, id: str, expect: Any = 2, lines: int = 1
) -> Callable[[Callable[[Path], Any]], None]:
    def register(build: Callable[[Path], Any]) -> None:
        CASES.append(Case(f"{kind}-{id}", kind, build, expect, lines))

    return register


# ---------------------------------------------------------------------------- plans


def _plan_dir(folder: Path) -> None:
    for sub in ("mappings", "carry-back"):
        shutil.copytree(PLANS / sub, folder / sub)


TWO_PROBLEMS = {
    "dependency-cycle": "the cycle, and a system depending on a later phase",
    "unknown-store": "the store is missing from both environments",
    "duplicate-system": "the id twice, and pos-stores now in no system list",
    "phase-unknown-system": "the misspelt name, and crm-email now in no phase",
}
"""Edits that make two true problems: validate names each (a line apiece)."""


def plan_text(id: str, text: str | bytes, *, command: str = "validate") -> None:
    """A plan case: `text` as plan.yaml beside the demo's mappings; run `command` on it."""

    def build(folder: Path) -> list[str]:
        _plan_dir(folder)
        path = folder / "plan.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        if command == "run":
            return ["run", str(path), "--env", "staging", "--local", "--time-scale", "100"]
        if command == "drill":
            return ["drill", str(path), "--env", "staging"]
        return [command, str(path)]

    case("plan", id, lines=2 if id in TWO_PROBLEMS and command == "validate" else 1)(build)


def edit(old: str, new: str, count: int = 1) -> str:
    assert old in DEMO, old
    return DEMO.replace(old, new, count)


for _cmd in ("validate", "run", "drill", "show"):
    plan_text(f"empty-{_cmd}", "", command=_cmd)
    plan_text(f"huge-int-{_cmd}", edit("expected: 40m", f"expected: {HUGE}"), command=_cmd)
    plan_text(
        f"escaping-mapping-{_cmd}",
        edit("mappings/members.yaml", "../../../../../etc/passwd"),
        command=_cmd,
    )

PLAN_EDITS: dict[str, str | bytes] = {
    "whitespace": "   \n\n  \t\n",
    "a-list": "- name: x\n- name: y\n",
    "a-scalar": "just words\n",
    "yaml-error": edit(
        "channels: [app-banner, status-page, email]", "channels: [app-banner, status-page"
    ),
    "tab-indent": edit("  lead: 48h", "\tlead: 48h"),
    "huge-int-key": edit("notices:", f"{HUGE}: 1\nnotices:"),
    "huge-int-in-list": edit("approvers: [loyalty-platform]", f"approvers: [{HUGE}]"),
    "huge-float": edit("expected: 40m", "expected: 1e999999"),
    "unknown-top-key": edit("notices:", "notice_s: {}\nnotices:"),
    "unknown-system-key": edit(
        "    department: loyalty-platform\n", "    departmnt: loyalty-platform\n"
    ),
    "duplicate-key": edit("timezone: America/Chicago", "timezone: America/Chicago\ntimezone: UTC"),
    "alias-bomb": "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
    "python-tag": "name: !!python/object/apply:os.system ['true']\n",
    "custom-tag": edit("timezone: America/Chicago", "timezone: !secret zone"),
    "binary": bytes(range(256)) * 4,
    "nul-bytes": DEMO.encode().replace(b"demo cutover", b"demo\x00cutover"),
    "latin-1": edit("Reward tiers — demo", "Reward tiers – d\xe9mo").encode("latin-1", "replace"),
    "deep-nesting": "name: x\nsystems: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep-mapping": "name: x\nsystems: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "over-size-cap": DEMO + "#" * (6 * 1024 * 1024) + "\n",
    "long-scalar": edit("name: Reward tiers — demo cutover", "name: " + "x" * (4 * 1024 * 1024)),
    "multi-document": DEMO + "---\nname: second\n",
    "absolute-mapping": edit("mappings/members.yaml", "/etc/passwd"),
    "missing-mapping": edit("mappings/members.yaml", "mappings/nope.yaml"),
    "mapping-is-dir": edit("mappings/members.yaml", "mappings"),
    "unknown-dependency": edit("depends_on: [loyalty-core]", "depends_on: [loyalty-kore]"),
    "dependency-cycle": edit(
        "    department: loyalty-platform\n    steps:",
        "    department: loyalty-platform\n    depends_on: [crm-email]\n    steps:",
    ),
    "unknown-approver": edit("approvers: [loyalty-platform]", "approvers: [finance]"),
    "bad-duration": edit("expected: 40m", "expected: 3 fortnights"),
    "negative-duration": edit("expected: 40m", "expected: -40m"),
    "zero-lead": edit("lead: 48h", "lead: banana"),
    "bad-base-url": edit(
        "base_url: http://127.0.0.1:8700/systems/{system}", "base_url: ftp://x/{system}"
    ),
    "dsn-password": edit(
        "postgresql://cutover@loyalty-db-legacy", "postgresql://cutover:hunter2@loyalty-db-legacy"
    ),
    "unknown-step": edit("{step: switch, expected: 15m}", "{step: teleport, expected: 15m}"),
    "bad-freeze-mode": edit(
        "{step: freeze, mode: read-only, expected: 5m}",
        "{step: freeze, mode: sideways, expected: 5m}",
    ),
    "unknown-store": edit("source: members-legacy", "source: members-legacyy"),
    "string-for-list": edit("channels: [app-banner, status-page, email]", "channels: app-banner"),
    "list-for-string": edit("timezone: America/Chicago", "timezone: [a, b]"),
    "bad-timezone": edit("timezone: America/Chicago", "timezone: Mars/Olympus"),
    "bad-starts-at": edit("starts_at: 2026-12-01T21:00:00-06:00", "starts_at: yesterday"),
    "null-name": edit("name: Reward tiers — demo cutover", "name: ~"),
    "unknown-feature": edit("degrades: [redeem-rewards]", "degrades: [redeem-rewardz]"),
    "unknown-placeholder": edit(
        "while we switch to Reward Tiers. You keep", "while we {teleport}. You keep"
    ),
    "duplicate-system": edit("  - id: pos-stores", "  - id: mobile-app"),
    "phase-unknown-system": edit("systems: [crm-email]", "systems: [crm-emails]"),
    "nan-budget": edit("max_outage: 45m", "max_outage: .nan"),
    "secret-as-value": edit("token_secret: CUTOVER_ESTATE_TOKEN", "token_secret: 'not a name!'"),
    "bom-then-garbage": b"\xef\xbb\xbf" + b"\xff\xfe\xfd",
    "only-comment": "# nothing here\n",
    "merge-key-bomb": "a: &a {x: 1}\nb: {<<: *a, <<: *a}\n",
}
for _id, _text in PLAN_EDITS.items():
    plan_text(_id, _text)


@case("plan", "not-there")
def _(folder: Path) -> list[str]:
    return ["validate", str(folder / "nope.yaml")]


@case("plan", "a-folder")
def _(folder: Path) -> list[str]:
    return ["validate", str(folder)]


@case("plan", "fifo")
def _(folder: Path) -> list[str]:
    os.mkfifo(folder / "plan.yaml")
    return ["validate", str(folder / "plan.yaml")]


@case("plan", "dev-zero")
def _(folder: Path) -> list[str]:
    return ["validate", "/dev/zero"]


@case("plan", "symlink-loop")
def _(folder: Path) -> list[str]:
    (folder / "a.yaml").symlink_to(folder / "b.yaml")
    (folder / "b.yaml").symlink_to(folder / "a.yaml")
    return ["validate", str(folder / "a.yaml")]


@case("plan", "dangling-symlink")
def _(folder: Path) -> list[str]:
    (folder / "plan.yaml").symlink_to(folder / "gone.yaml")
    return ["validate", str(folder / "plan.yaml")]


# -------------------------------------------------------------------------- mappings

MEMBERS = (PLANS / "mappings" / "members.yaml").read_text()


def mapping_text(id: str, text: str | bytes) -> None:
    """A mapping case: the demo plan beside a broken mappings/members.yaml."""

    def build(folder: Path) -> list[str]:
        (folder / "mappings").mkdir()
        shutil.copytree(PLANS / "carry-back", folder / "carry-back")
        (folder / "mappings" / "members.yaml").write_bytes(
            text if isinstance(text, bytes) else text.encode()
        )
        (folder / "plan.yaml").write_text(DEMO)
        return ["validate", str(folder / "plan.yaml")]

    case("mapping", id, lines=2 if id == "no-source" else 1)(build)


def medit(old: str, new: str) -> str:
    assert old in MEMBERS, old
    return MEMBERS.replace(old, new, 1)


MAPPING_EDITS: dict[str, str | bytes] = {
    "empty": "",
    "whitespace": "\n \n",
    "a-list": "- 1\n- 2\n",
    "yaml-error": "source: {columns: [\n",
    "huge-int": MEMBERS + f"\nextra: {HUGE}\n",
    "binary": bytes(range(256)) * 8,
    "nul": MEMBERS.encode().replace(b"source", b"sou\x00rce", 1),
    "duplicate-key": MEMBERS + "\nsource: {}\n",
    "alias-bomb": PLAN_EDITS["alias-bomb"],  # type: ignore[dict-item]
    "python-tag": "source: !!python/name:os.system\n",
    "over-size-cap": MEMBERS + "#" * (6 * 1024 * 1024),
    "deep-nesting": "source: " + "[" * 5000 + "]" * 5000 + "\n",
    "unknown-top-key": MEMBERS + "\nsorce: {}\n",
    "no-source": "target: {key: member_id}\n",
    "latin-1": ("# caf\xe9\n" + MEMBERS).encode("latin-1", "replace"),
}
for _id, _text in MAPPING_EDITS.items():
    mapping_text(_id, _text)


@case("mapping", "fifo")
def _(folder: Path) -> list[str]:
    (folder / "mappings").mkdir()
    shutil.copytree(PLANS / "carry-back", folder / "carry-back")
    os.mkfifo(folder / "mappings" / "members.yaml")
    (folder / "plan.yaml").write_text(DEMO)
    return ["validate", str(folder / "plan.yaml")]


@case("mapping", "check-empty")
def _(folder: Path) -> list[str]:
    (folder / "m.yaml").write_text("")
    (folder / "s.csv").write_text("a,b\n1,2\n")
    return ["mapping", "check", str(folder / "m.yaml"), "--sample", str(folder / "s.csv")]


@case("mapping", "check-huge-int")
def _(folder: Path) -> list[str]:
    (folder / "m.yaml").write_text(MEMBERS + f"\nx: {HUGE}\n")
    (folder / "s.csv").write_text("a,b\n1,2\n")
    return ["mapping", "check", str(folder / "m.yaml"), "--sample", str(folder / "s.csv")]


# ----------------------------------------------------------------------- faults files


def faults_text(id: str, text: str | bytes) -> None:
    def build(folder: Path) -> list[str]:
        _plan_dir(folder)
        (folder / "plan.yaml").write_text(DEMO)
        (folder / "faults.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
        return ["drill", str(folder / "plan.yaml"), "--env", "staging", "--faults", "faults.yaml"]

    case("faults", id)(build)


FAULTS: dict[str, str | bytes] = {
    "empty": "",
    "whitespace": "  \n",
    "a-scalar": "faults\n",
    "no-list": "faults: {system: pos-stores}\n",
    "yaml-error": "faults: [\n",
    "unknown-system": "faults:\n  - {system: pos-storez, fail_next: 1}\n",
    "unknown-knob": "faults:\n  - {system: pos-stores, fail_nxt: 1}\n",
    "huge-int": f"faults:\n  - {{system: pos-stores, latency_ms: {HUGE}}}\n",
    "negative": "faults:\n  - {system: pos-stores, latency_ms: -5}\n",
    "too-large": "faults:\n  - {system: pos-stores, latency_ms: 99999999}\n",
    "rate-over-one": "faults:\n  - {system: pos-stores, error_rate: 1.5}\n",
    "nan-rate": "faults:\n  - {system: pos-stores, error_rate: .nan}\n",
    "bad-status": "faults:\n  - {system: pos-stores, fail_status: 418}\n",
    "unknown-call": "faults:\n  - {system: pos-stores, calls: [teleport]}\n",
    "bad-crash-on": "faults:\n  - {system: pos-stores, crash_on: everything}\n",
    "string-number": "faults:\n  - {system: pos-stores, fail_next: lots}\n",
    "binary": bytes(range(256)) * 4,
    "nul": b"faults:\n  - {system: pos-st\x00ores}\n",
    "alias-bomb": PLAN_EDITS["alias-bomb"],  # type: ignore[dict-item]
    "duplicate-key": "faults: []\nfaults: []\n",
    "over-size-cap": "faults: []\n" + "#" * (6 * 1024 * 1024),
    "python-tag": "faults: !!python/object/new:list []\n",
    "deep-nesting": "faults: " + "[" * 5000 + "]" * 5000 + "\n",
}
for _id, _text in FAULTS.items():
    faults_text(_id, _text)


@case("faults", "not-there")
def _(folder: Path) -> list[str]:
    _plan_dir(folder)
    (folder / "plan.yaml").write_text(DEMO)
    return ["drill", str(folder / "plan.yaml"), "--env", "staging", "--faults", "nope.yaml"]


@case("faults", "dev-zero")
def _(folder: Path) -> list[str]:
    _plan_dir(folder)
    (folder / "plan.yaml").write_text(DEMO)
    return ["drill", str(folder / "plan.yaml"), "--env", "staging", "--faults", "/dev/zero"]


for _flag in (
    "pos-stores:fail_status=418",
    "pos-storez:fail_next=1",
    "pos-stores",
    "pos-stores:latency_ms=" + HUGE,
    ":=",
    "pos-stores:fail_next=lots",
):

    def _inline(folder: Path, flag: str = _flag) -> list[str]:
        _plan_dir(folder)
        (folder / "plan.yaml").write_text(DEMO)
        return ["estate", "serve", str(folder / "plan.yaml"), "--port", "0", "--fault", flag]

    case("faults", f"inline-{len(CASES)}")(_inline)


# ----------------------------------------------------------- feeds: whole-file errors

FEED_HEADER = "member_number,email,first_name,status_code,points,lifetime_points,joined_on\n"
GOOD_LINE = "1,a@b.example,Ann,A,1.00,2.00,2020-01-01\n"
FEED_MAPPING = str(PLANS / "mappings" / "member-feed.yaml")


def feed_file(id: str, data: bytes) -> None:
    def build(folder: Path) -> list[str]:
        (folder / "feed.csv").write_bytes(data)
        return ["mapping", "check", FEED_MAPPING, "--sample", str(folder / "feed.csv")]

    case("feed", id)(build)


FEED_FILES: dict[str, bytes] = {
    "empty": b"",
    "only-newlines": b"\n\n\n",
    "header-nul": FEED_HEADER.replace("email", "em\x00ail").encode() + GOOD_LINE.encode(),
    "header-latin-1": FEED_HEADER.replace("email", "\xe9mail").encode("latin-1"),
    "header-open-quote": b'"member_number,email\n' + GOOD_LINE.encode(),
    "header-too-long": b"a" * (2 * 1024 * 1024) + b"\n",
}
for _id, _data in FEED_FILES.items():
    feed_file(_id, _data)


@case("feed", "fifo")
def _(folder: Path) -> list[str]:
    os.mkfifo(folder / "feed.csv")
    return ["mapping", "check", FEED_MAPPING, "--sample", str(folder / "feed.csv")]


@case("feed", "dev-zero")
def _(folder: Path) -> list[str]:
    return ["mapping", "check", FEED_MAPPING, "--sample", "/dev/zero"]


@case("feed", "a-folder")
def _(folder: Path) -> list[str]:
    return ["mapping", "check", FEED_MAPPING, "--sample", str(folder)]


# ------------------------------------------------- feeds: a bad line among good ones

FEED_LINES: dict[str, tuple[bytes, str]] = {
    "stray-quote": (
        b'4,"m4@example.com,Four,A,1.00,1.00,2020-01-01\n',
        "a quoted field is not closed",
    ),
    "nul": (b"4,m4@x.example,Fo\x00ur,A,1.00,1.00,2020-01-01\n", "a NUL byte in the line"),
    "latin-1": (b"4,m4@x.example,F\xf6ur,A,1.00,1.00,2020-01-01\n", "not UTF-8 text"),
    "empty": (b"\n", "an empty line"),
    "crlf-empty": (b"\r\n", "an empty line"),
    "long-field": (
        b"4,m4@x.example," + b"F" * 200_000 + b",A,1.00,1.00,2020-01-01\n",
        "a field is longer",
    ),
    "long-line": (b"4," + b"x" * (2 * 1024 * 1024) + b"\n", "the line is longer than"),
    "huge-key": (
        HUGE.encode() + b",m4@x.example,Four,A,1.00,1.00,2020-01-01\n",
        "is not an integer",
    ),
    "huge-points": (b"4,m4@x.example,Four,A," + HUGE.encode() + b",1.00,2020-01-01\n", "points:"),
    "exp-points": (b"4,m4@x.example,Four,A,1e100000000,1.00,2020-01-01\n", "points:"),
    "few-fields": (b"4,m4@x.example\n", "the line has 2 fields"),
    "many-fields": (b"4,m4@x.example,Four,A,1.00,1.00,2020-01-01,extra\n", "the line has 8 fields"),
    "quote-junk": (b'4,"m4@x.example"junk,Four,A,1.00,1.00,2020-01-01\n', "not valid CSV"),
    "duplicate-key": (b"2,dup@x.example,Dup,A,1.00,1.00,2020-01-01\n", "is on line 3 too"),
}


def feed_line(id: str, line: bytes, reason: str) -> None:
    CASES.append(Case(f"feed-line-{id}", "feed-line", lambda folder, b=line: b, reason))


for _id, (_line, _reason) in FEED_LINES.items():
    feed_line(_id, _line, _reason)


# ----------------------------------------------------------------- control API bodies

FREEZE = "/systems/pos-stores/cutover/v1/freeze"
JOBS = "/systems/loyalty-core/cutover/v1/jobs"
SWITCH = "/systems/pos-stores/cutover/v1/switch"
JSON = {"content-type": "application/json"}


def http(
    id: str, expect: int, method: str, path: str, body: bytes | None = None, **headers: str
) -> None:
    request = {"method": method, "path": path, "body": body, "headers": {**JSON, **headers}}
    CASES.append(Case(f"http-{id}", "http", lambda folder, r=request: r, expect))


http("empty-body", 422, "POST", FREEZE, b"")
http("not-json", 400, "POST", FREEZE, b"freeze please")
http("truncated-json", 400, "POST", FREEZE, b'{"mode": "buffer-writes"')
http("trailing-comma", 400, "POST", FREEZE, b'{"mode": "buffer-writes",}')
http("not-utf8", 400, "POST", FREEZE, b'{"mode": "\xff\xfe"}')
http("a-list", 422, "POST", FREEZE, b'["buffer-writes"]')
http("a-string", 422, "POST", FREEZE, b'"buffer-writes"')
http("null", 422, "POST", FREEZE, b"null")
http("unknown-mode", 422, "POST", FREEZE, b'{"mode": "sideways", "key": "k1"}')
http("unknown-field", 422, "POST", FREEZE, b'{"mode": "buffer-writes", "key": "k2", "force": true}')
http("no-key", 400, "POST", FREEZE, b'{"mode": "buffer-writes"}')
http(
    "key-too-long", 400, "POST", FREEZE, b'{"mode": "buffer-writes", "key": "' + b"k" * 401 + b'"}'
)
http("key-control-chars", 400, "POST", FREEZE, b'{"mode": "buffer-writes", "key": "a\\u0000b"}')
http(
    "key-mismatch",
    422,
    "POST",
    FREEZE,
    b'{"mode": "buffer-writes", "key": "k3"}',
    **{"Idempotency-Key": "k4"},
)
http(
    "huge-int-key", 400, "POST", FREEZE, b'{"mode": "buffer-writes", "key": ' + HUGE.encode() + b"}"
)
http(
    "body-over-limit",
    413,
    "POST",
    JOBS,
    b'{"job": "reindex", "key": "k5", "pad": "' + b"x" * (2 << 20) + b'"}',
)
http(
    "unknown-custom-call", 404, "POST", "/systems/pos-stores/cutover/v1/teleport", b'{"key": "k6"}'
)
http("deep-json", 400, "POST", FREEZE, b"[" * 100_000 + b"]" * 100_000)
http("unknown-version", 422, "POST", SWITCH, b'{"version": "reward-tierz", "key": "k7"}')
http("bad-job-name", 422, "POST", JOBS, b'{"job": "../../etc", "key": "k8"}')
http(
    "unknown-system",
    404,
    "POST",
    "/systems/nope/cutover/v1/freeze",
    b'{"mode": "buffer-writes", "key": "k9"}',
)
http("nan-latency-faults", 422, "PUT", "/systems/pos-stores/sim/v1/faults", b'{"latency_ms": NaN}')
http(
    "wrong-token",
    401,
    "POST",
    FREEZE,
    b'{"mode": "buffer-writes", "key": "k10"}',
    authorization="Bearer wrong-token-0123456789",
)
http("no-token", 401, "POST", FREEZE, b'{"mode": "buffer-writes", "key": "k11"}', authorization="")
