"""A compressed run of the demo plan in Prefect delivers its notices to the plan's sinks of its
environment: the status page goes scheduled -> in progress -> completed per window, and the
staff Slack channel gets one message per notice event."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from notice_receivers import ChatReceiver, StatuspageStub, plan_with

from cutover.engine.request import RunRequest
from cutover.flows.launch import execute_run
from cutover.sim.server import running_estate

SINKS = """\
  sinks:
    - id: status
      kind: statuspage
      page: pg0demo
      api_key: FLOW_STATUSPAGE_KEY
      components: {{redeem-rewards: cmpredeem001, rewards-in-app: cmpapp000001}}
      base_url: "{statuspage}"
      environments: [staging]
    - {{id: ops-slack, kind: slack, block: flow-slack, environments: [staging]}}
    - {{id: customers, kind: webhook, url: "https://partners.example.com/never", secret: NOT_SET}}
"""


@pytest.mark.slow
def test_a_run_publishes_to_the_plans_sinks(
    tmp_path: Path, prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production-only webhook (to a host outside the machine) is not even built in
    staging; the others get every notice of the run, each once."""
    from prefect.blocks.notifications import SlackWebhook

    monkeypatch.setenv("FLOW_STATUSPAGE_KEY", "flow-sp-key-0123456789")
    stub = StatuspageStub("pg0demo", "flow-sp-key-0123456789", {"cmpredeem001", "cmpapp000001"})
    chat = ChatReceiver()
    SlackWebhook(url=chat.url + "/services/TFLOW/BFLOW/flowtoken").save(
        "flow-slack", overwrite=True
    )
    plan = plan_with(tmp_path, SINKS.format(statuspage=stub.url))
    try:
        with running_estate(plan, "staging", workdir=tmp_path) as estate:
            summary = execute_run(
                RunRequest(
                    plan_path=str(plan),
                    env="staging",
                    run_key="flow-sinks",
                    journal=str(tmp_path / "journal.db"),
                    scale=600.0,
                    base_url=estate.base_url,
                    auto_approve=True,
                    workdir=str(tmp_path / "run"),
                    data_root=str(tmp_path),
                    skip_idle=True,
                )
            )
    finally:
        stub.close()
        chat.close()
    assert summary.outcome == "completed"
    assert all(status < 300 for _, _, status in stub.requests), stub.requests
    assert sorted(i["status"] for i in stub.incidents.values()) == ["completed", "completed"]
    statuses = [status for _, status in stub.updates()]
    assert statuses.count("scheduled") == statuses.count("completed") == 2
    texts = chat.texts("slack")
    assert len(texts) == len(set(texts)) == 6  # 2 windows x advance, started, restored
    assert os.environ.get("NOT_SET") is None  # the production webhook never asked for it
