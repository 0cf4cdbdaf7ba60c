"""The plan's Slack, Teams and email sinks with their credentials in Prefect blocks, by name,
on a real Prefect server: delivered to loopback stand-ins, once each across a kill -9."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from notice_receivers import ChatReceiver, SmtpReceiver, demo_lifecycle, plan_with

from cutover.notices.email import message_id

HERE = Path(__file__).resolve().parent
SLACK_PATH = "/services/T0000BLOCK/B0000BLOCK/blocktokenabcdefgh"
TEAMS_PATH = "/workflows/wf123/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s1gblock"
SINKS = """\
  sinks:
    - {id: ops-slack, kind: slack, block: test-slack, environments: [staging]}
    - {id: ops-teams, kind: teams, block: test-teams, environments: [staging]}
    - id: customers-mail
      kind: email
      block: test-smtp
      sender: notices@rewards.example.com
      to: [members@lists.example.com]
      environments: [staging]
"""


@pytest.fixture
def receivers(prefect_api: str) -> Iterator[tuple[ChatReceiver, SmtpReceiver]]:
    from prefect.blocks.notifications import MicrosoftTeamsWebhook, SlackWebhook
    from prefect_email import EmailServerCredentials  # type: ignore[import-untyped]

    chat, smtp = ChatReceiver(), SmtpReceiver()
    SlackWebhook(url=chat.url + SLACK_PATH).save("test-slack", overwrite=True)
    MicrosoftTeamsWebhook(url=chat.url + TEAMS_PATH).save("test-teams", overwrite=True)
    EmailServerCredentials(smtp_server="127.0.0.1", smtp_type="INSECURE", smtp_port=smtp.port).save(
        "test-smtp", overwrite=True
    )
    yield chat, smtp
    chat.close()
    smtp.close()


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from cutover.flows.notice_sinks import PrefectBlocks
    from cutover.notices import Publisher, build_sinks
    from cutover.plan import load_plan
    from notice_receivers import demo_lifecycle

    plan = load_plan(sys.argv[1]).plan
    _, notices = demo_lifecycle()
    publisher = Publisher(plan, build_sinks(plan, "staging", PrefectBlocks()), Path(sys.argv[2]))
    publisher.publish(notices)
    sys.exit(3 if publisher.failures else 0)
    """
)


def publish(prefect_api: str, plan: Path, log: Path, kills: Any, at: int | None) -> tuple[int, str]:
    """Publish in a fresh Python process that `kills` SIGKILLs after its `at`-th request."""
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)]),
    }
    kills.arm(at)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(plan), str(log)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    kills.victim = child.pid
    out, _ = child.communicate(timeout=120)
    kills.arm(None)
    return child.returncode, out


@pytest.mark.slow
def test_blocks_by_name_deliver_and_survive_a_kill_9(
    tmp_path: Path, prefect_api: str, receivers: tuple[ChatReceiver, SmtpReceiver]
) -> None:
    """Killed -9 right after the chat stand-in took its 3rd post, then right after the SMTP
    server took its 2nd message, then run to the end: each notice event once on Slack and
    on Teams, each email notice once per Message-ID; no webhook token in any output."""
    chat, smtp = receivers
    plan = plan_with(tmp_path, SINKS)
    log = tmp_path / "delivered.jsonl"
    code, out = publish(prefect_api, plan, log, chat.kills, 3)
    assert code == -9, out
    code, out = publish(prefect_api, plan, log, smtp.kills, 2)
    assert code == -9, out
    code, out = publish(prefect_api, plan, log, chat.kills, None)
    assert code == 0, out
    _, notices = demo_lifecycle()
    for service in ("slack", "teams"):
        texts = chat.texts(service)
        assert len(texts) == len(set(texts)) == 7, service
    emails = {n.as_dict()["key"] for n in notices if n.channel == "email"}
    ids = {message_id(k, "notices@rewards.example.com") for k in emails}
    assert set(smtp.by_id()) == ids
    for text in (out, log.read_text()):
        assert "T0000BLOCK" not in text and "s1gblock" not in text


def test_a_missing_block_is_a_failure_naming_it(
    tmp_path: Path, prefect_api: str, receivers: tuple[ChatReceiver, SmtpReceiver]
) -> None:
    from cutover.flows.notice_sinks import PrefectBlocks
    from cutover.notices import Publisher, build_sinks
    from cutover.plan import load_plan

    plan = load_plan(plan_with(tmp_path, SINKS.replace("test-teams", "no-such-block"))).plan
    publisher = Publisher(plan, build_sinks(plan, "staging", PrefectBlocks()), tmp_path / "d")
    publisher.publish(demo_lifecycle()[1])
    assert [f.sink for f in publisher.failures] == ["ops-teams"]
    assert "no Teams block named 'no-such-block'" in publisher.failures[0].error
