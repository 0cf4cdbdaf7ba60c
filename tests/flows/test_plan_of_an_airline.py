"""A plan of another business, written from docs/plan-file.md: an airline's frequent-flyer
program. Its ledger is worked on over two nights, the airports' duty managers confirm the
kiosks with a checklist, retiring the partner feed cannot be undone, and the feed is not
frozen during the morning departure bank (the handover is planned at 05:00, inside it: the
timeline moves the feed's cut to 09:00). It validates, shows, drills with a rollback (reconciled 0 lost / 0 duplicated / 0 refused), and a
rollback once the partner feed is retired is refused, naming that step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support import PLANS, run_cli

AIRLINE = """\
name: SkyMiles Plus — frequent-flyer program change
timezone: America/Denver
starts_at: 2027-04-06T23:00:00-06:00
program:
  legacy: skymiles-classic
  target: skymiles-plus
  names: {skymiles-classic: SkyMiles Classic, skymiles-plus: SkyMiles Plus}
environments:
  staging:
    simulated: true
    base_url: http://127.0.0.1:8700/systems/{system}
    token_secret: CUTOVER_ESTATE_TOKEN
    stores:
      miles-legacy: {engine: sqlite, path: var/staging/miles-legacy.db, table: members}
      miles-plus: {engine: sqlite, path: var/staging/miles-plus.db, table: members}
  production:
    base_url: https://{system}.ops.example-air.com
    token_secret: AIR_PROD_TOKEN
    stores:
      miles-legacy: {engine: postgresql, dsn: "postgresql://cutover@miles-db:5432/miles", password_secret: MILES_DB_PASSWORD, table: members}
      miles-plus: {engine: postgresql, dsn: "postgresql://cutover@plus-db:5432/miles", password_secret: PLUS_DB_PASSWORD, table: members}
departments:
  - {id: loyalty-it, name: Loyalty IT, lead: Dana Ortiz, signoff_secret: AIR_SIGNOFF_LOYALTY}
  - {id: airport-ops, name: Airport Operations, lead: Sam Okoye, signoff_secret: AIR_SIGNOFF_AIRPORTS}
  - {id: digital, name: Digital, lead: Lee Park, signoff_secret: AIR_SIGNOFF_DIGITAL}
  - {id: partners, name: Partner Airlines, lead: Ines Roy}
systems:
  - id: miles-ledger
    name: Miles ledger (member balances)
    department: loyalty-it
    steps:
      - {step: migrate, source: miles-legacy, target: miles-plus, mapping: mappings/members.yaml, rollback: carry-back/members.yaml, expected: {staging: 20m, production: 3h}}
      - {step: freeze, mode: buffer-writes, expected: 5m, phase: night-two}
      - {step: verify, expected: 10m}
      - {step: switch, expected: 5m}
      - {step: unfreeze, expected: 5m}
  - id: checkin-kiosks
    name: Airport check-in kiosks
    department: airport-ops
    front: pos
    depends_on: [miles-ledger]
    steps:
      - {step: freeze, mode: buffer-writes, expected: 5m}
      - {step: switch, expected: 10m}
      - {step: unfreeze, expected: 5m}
      - step: manual
        id: duty-managers-confirm
        expected: {staging: 5m, production: 45m}
        checklist: [DEN kiosks show SkyMiles Plus, ORD kiosks show SkyMiles Plus]
  - id: member-app
    name: Member app backend
    department: digital
    front: app
    depends_on: [miles-ledger, checkin-kiosks]
    degrades: [miles-in-app]
    steps:
      - {step: freeze, mode: read-only, expected: 5m}
      - {step: switch, expected: 10m}
      - {step: unfreeze, expected: 5m}
  - id: partner-feed
    name: Partner airlines' accrual feed
    department: partners
    depends_on: [member-app]
    avoid: ["Mon-Fri 05:00-09:00"]   # no freeze during the 05:00-09:00 departure bank
    steps:
      - {step: freeze, mode: buffer-writes, expected: 5m}
      - {step: http, id: retire-legacy-feed, path: /retire, expected: 10m, undo: none}
      - {step: unfreeze, expected: 5m}
features:
  - id: miles-in-app
    name: Your miles in the app
    notice:
      text:
        started: "Your miles are being upgraded to {program}; back by {end}."
        restored: "Your miles are back, now in {program}."
phases:
  - id: night-one
    starts: +0h
    systems: [miles-ledger]
    gate: {approvers: [loyalty-it]}
  - id: night-two
    starts: +24h
    systems: [miles-ledger, checkin-kiosks, member-app]
    gate: {approvers: [airport-ops, digital]}
  - id: handover
    starts: +30h
    systems: [partner-feed]
budgets:
  - {feature: miles-in-app, max_outage: 1h}
"""


def write_plan(folder: Path) -> Path:
    """The plan, beside the member mapping and carry-back files the simulated estate fits."""
    for sub in ("mappings", "carry-back"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(PLANS / sub / "members.yaml", folder / sub / "members.yaml")
    path = folder / "skymiles.yaml"
    path.write_text(AIRLINE)
    return path


@pytest.mark.slow
def test_an_airline_plan_validates_shows_and_drills_a_rollback(
    prefect_server: None, tmp_path: Path
) -> None:
    """Validate, show (the ledger over both nights), drill with a rollback after the kiosks'
    checklist was confirmed (automatically, in a drill): 0 lost / 0 duplicated / 0 refused,
    every system back on the legacy program; then the rollback of a run whose partner feed
    was retired is refused, naming the step, even for a drill past the point of no return."""
    plan = write_plan(tmp_path / "plans")
    checked = run_cli("validate", str(plan))
    assert checked.code == 0, checked.output
    shown = run_cli("show", str(plan), "--env", "staging", "--format", "json")
    assert shown.code == 0, shown.output
    data = json.loads(shown.out)
    ledger = next(s for d in data["departments"] for s in d["systems"] if s["id"] == "miles-ledger")
    assert ledger["phase"] == "night-one, night-two"
    feed = next(s for d in data["departments"] for s in d["systems"] if s["id"] == "partner-feed")
    assert feed["steps"][0]["pushed"] == {  # a window the drill's timeline is pushed around
        "from": "2027-04-08T05:00:00-06:00",
        "to": "2027-04-08T09:00:00-06:00",
        "window": "Mon-Fri 05:00-09:00",
    }
    drilled = run_cli(
        "drill",
        str(plan),
        "--env",
        "staging",
        "--rollback-at",
        "member-app:switch",
        "--time-scale",
        "300",
        "--rate",
        "30",
        "--customers",
        "200",
        "--home",
        str(tmp_path / "drills"),
        "--json",
    )
    assert drilled.code == 0, drilled.output[-3000:]
    result = json.loads(drilled.out.strip().splitlines()[-1])  # --json: the last line
    assert result["rolled_back"] is True, drilled.output
    assert (result["lost"], result["duplicated"], result["refused"]) == (0, 0, 0)
    assert set(result["programs"].values()) == {"skymiles-classic"}

    from cutover.engine.context import RunContext
    from cutover.engine.request import RunRequest
    from cutover.engine.rollback import check_rollback_allowed
    from cutover.errors import RollbackError
    from cutover.journal import Journal

    history = Journal(Path(result["workdir"]) / "journal.db").history(result["run_key"])
    done = {(r.system, r.step) for r in history if r.action == "do" and r.status == "done"}
    assert ("miles-ledger", "migrate") in done  # night one, then night two's steps
    assert ("miles-ledger", "switch") in done
    confirmed = next(r for r in history if r.step == "duty-managers-confirm" and r.status == "done")
    assert confirmed.detail["confirmed_by"] == "auto-approve (drill)"  # journaled as such
    assert ("partner-feed", "retire-legacy-feed") not in done  # the rollback came before it
    ctx = RunContext.load(
        RunRequest(
            plan_path=str(plan),
            env="staging",
            run_key="past-the-feed",
            journal=str(tmp_path / "j.db"),
            workdir=str(tmp_path / "w"),
            scale=300.0,
            past_point_of_no_return=True,
        )
    )
    ctx.clock()
    ctx.journal.begin("past-the-feed", "partner-feed", "retire-legacy-feed")
    ctx.journal.finish("past-the-feed", "partner-feed", "retire-legacy-feed", "done", {})
    with pytest.raises(RollbackError, match="partner-feed · retire-legacy-feed cannot be undone"):
        check_rollback_allowed(ctx)
