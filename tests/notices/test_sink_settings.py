"""`notices.sinks` in the plan: each kind's keys, credentials by name, per environment; every
mistake one `FILE:LINE: message` and exit 2 from `cutover validate`."""

from __future__ import annotations

from pathlib import Path

import pytest
from notice_receivers import plan_with

from cutover.notices import build_sinks
from cutover.notices.chat import ChatSink
from cutover.notices.email import EmailSink
from cutover.notices.statuspage import StatuspageSink
from cutover.notices.webhook import WebhookSink
from cutover.plan import load_plan
from support import run_cli

SINKS = """\
  sinks:
    - {id: ops-slack, kind: slack, block: cutover-slack, environments: [staging, production]}
    - {id: ops-teams, kind: teams, block: cutover-teams}
    - id: customers-mail
      kind: email
      block: cutover-smtp
      sender: notices@rewards.example.com
      to: [members@lists.example.com]
    - {id: partners, kind: webhook, url: "https://partners.example.com/hooks/cutover", secret: PARTNER_HMAC}
    - id: status
      kind: statuspage
      page: kctbh9vrtdwd
      api_key: STATUSPAGE_KEY
      components: {redeem-rewards: cmpredeem001, rewards-in-app: cmpapp000001}
"""


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_every_kind_validates_and_a_drill_in_staging_reaches_only_what_names_staging(
    tmp_path: Path,
) -> None:
    path = plan_with(tmp_path, SINKS)
    assert run_cli("validate", str(path)).code == 0
    plan = load_plan(path).plan
    production = build_sinks(plan, "production")
    assert [type(s) for s in production] == [
        ChatSink,
        ChatSink,
        EmailSink,
        WebhookSink,
        StatuspageSink,
    ]
    staging = build_sinks(plan, "staging")
    assert [s.name for s in staging] == ["ops-slack"]  # customers are production-only


CASES = [
    ("kind", "    - {id: x, kind: pager, block: b}\n", "kind: pager", "Input should be"),
    ("slack without block", "    - {id: x, kind: slack}\n", "kind: slack", "a slack sink needs `block`"),
    ("a key of another kind", "    - {id: x, kind: slack, block: b, url: 'https://a.example.com'}\n", "kind: slack", "`url` is not a key of a slack sink"),
    ("a secret by value", "    - {id: x, kind: webhook, url: 'https://a.example.com/h?token=abc', secret: S}\n", "kind: webhook", "the url holds a credential"),
    ("email without recipients", "    - {id: x, kind: email, block: b, sender: a@b.example.com}\n", "kind: email", "an email sink needs `to`"),
    ("a bad address", "    - {id: x, kind: email, block: b, sender: nobody, to: [a@b.example.com]}\n", "kind: email", "sender"),
    ("unknown environment", "    - {id: x, kind: slack, block: b, environments: [stagin]}\n", "kind: slack", "unknown environment 'stagin'; did you mean 'staging'?"),
    ("unknown feature", "    - {id: x, kind: statuspage, page: p1, api_key: K, components: {redeem-reward: c1}}\n", "kind: statuspage", "maps unknown feature 'redeem-reward'; did you mean 'redeem-rewards'?"),
    ("a channel nobody uses", "    - {id: x, kind: slack, block: b, channels: [ivr]}\n", "kind: slack", "carries ivr, which no feature's notices use"),
    ("duplicate id", "    - {id: x, kind: slack, block: b}\n    - {id: x, kind: teams, block: c}\n", "kind: teams", "duplicate sink id 'x'"),
    ("unknown key", "    - {id: x, kind: slack, blok: b}\n", "blok", "unknown key"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "sink", "at", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_sink_is_one_line_at_its_place(
    tmp_path: Path, name: str, sink: str, at: str, message: str
) -> None:
    path = plan_with(tmp_path, "  sinks:\n" + sink)
    result = run_cli("validate", str(path))
    assert result.code == 2, result.output
    lines = [line for line in result.out.splitlines() if message in line]
    assert lines, result.output
    assert lines[0].startswith(f"{path}:{line_of(path, at)}: "), result.output
    assert "Traceback" not in result.output
