"""`cutover status RUN`: where a run stands, read from its journal, from any machine.

The same view `cutover run` shows live (`cutover.cli.live.render`), drawn once (or
again and again with `--watch`) from the journal's rows: a SQLite file, or the
PostgreSQL journal a real night writes, reachable from wherever the release manager
sits. What only the running machine has (the notices outbox, the customers' ledger of
a demo or drill) is added when it lies beside a SQLite journal.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cutover.errors import UsageError
from cutover.secrets import hide_password

from .options import JournalOption, default_journal

WATCH_EVERY_S = 2.0


def status(
    run_key: Annotated[str, typer.Argument(help="The run key.", show_default=False)],
    journal: JournalOption = None,
    plan: Annotated[
        str | None,
        typer.Option(
            "--plan",
            help="The run's plan file (default: the packaged plan of the run's plan name).",
        ),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh until the run ends (Ctrl-C stops).")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON object (per refresh with --watch).")
    ] = False,
) -> None:
    """Where a run stands: phases, systems at work, gates and who is due, pauses, notices."""
    from cutover.engine.progress import progress
    from cutover.journal import Journal
    from cutover.plan import build_timeline

    from .live_view import render

    location = journal or default_journal()
    store = Journal(location, existing=True)
    row = _run_row(store, run_key)
    if row is None:
        raise UsageError(f"no run {run_key!r} in the journal {hide_password(location)}")
    loaded = _plan_of(plan, row["plan"])
    timeline = build_timeline(loaded.plan, env=row["env"])
    extras = _beside(location, run_key)

    def snapshot() -> Any:
        return progress(
            loaded.plan,
            timeline,
            run_key,
            store.history(run_key),
            store.decisions(run_key),
            notices=_count_lines(extras["outbox"]),
            traffic=_ledger_traffic(extras["ledger"], extras["report"]),
        )

    title = "cutover status"
    if not watch:
        now = snapshot()
        if json_out:
            typer.echo(json.dumps(now.as_dict()))
        else:
            from rich.console import Console

            from .live_view import WIDTH

            console = Console()
            Console(width=None if console.is_terminal else WIDTH).print(render(now, title=title))
        return
    _watch(snapshot, title, json_out)


def _watch(snapshot: Any, title: str, json_out: bool) -> None:
    """Refresh every WATCH_EVERY_S until the run has ended (or Ctrl-C)."""
    ended = ("completed", "rolled back")
    if json_out:
        last = None
        while True:
            now = snapshot()
            data = now.as_dict()
            if data != last:
                typer.echo(json.dumps(data))
                last = data
            if now.state in ended:
                return
            time.sleep(WATCH_EVERY_S)
    from rich.live import Live

    from .live_view import render

    now = snapshot()
    with Live(render(now, title=title), refresh_per_second=2) as live:
        while now.state not in ended:
            time.sleep(WATCH_EVERY_S)
            now = snapshot()
            live.update(render(now, title=title))


def _run_row(store: Any, run_key: str) -> dict[str, Any] | None:
    """The run's row (plan name, environment), read only."""
    import sqlalchemy as sa

    from cutover.journal.tables import runs

    with store.engine.connect() as conn:
        row = conn.execute(sa.select(runs).where(runs.c.run_key == run_key)).first()
    return dict(row._mapping) if row is not None else None


def _plan_of(given: str | None, name: str) -> Any:
    """The plan of the run: the one given (it must be the run's), or the packaged one
    of that name."""
    from cutover.plan import load_plan
    from cutover.plan.seeds import resolve_plan

    if given is not None:
        loaded = load_plan(resolve_plan(given))
        if loaded.plan.name != name:
            raise UsageError(
                f"--plan {given}: the run's plan is {name!r}, not {loaded.plan.name!r}"
            )
        return loaded
    from cutover.errors import PlanError
    from cutover.plan.seeds import SEEDS

    for path in sorted(SEEDS.glob("*.yaml")):
        try:
            loaded = load_plan(path)
        except PlanError:  # a draft beside the seeds is not this run's plan
            continue
        if loaded.plan.name == name:
            return loaded
    raise UsageError(f"the run's plan {name!r} is not a packaged one: give it with --plan FILE")


def _beside(location: str, run_key: str) -> dict[str, Path | None]:
    """The notices outbox and the customers' ledger, when they lie beside a SQLite journal
    (a demo's or drill's folder, or `runs/<key>` of `cutover run`)."""
    found: dict[str, Path | None] = {"outbox": None, "ledger": None, "report": None}
    if "://" in location:
        return found
    base = Path(location).parent
    for outbox in (
        base / "run" / "notices-outbox.jsonl",
        base / "runs" / run_key / "notices-outbox.jsonl",
    ):
        if outbox.exists():
            found["outbox"] = outbox
            break
    for name, file in (("ledger", "ledger.jsonl"), ("report", "report.json")):
        found[name] = base / file if (base / file).exists() else None
    return found


def _count_lines(path: Path | None) -> int | None:
    if path is None:
        return None
    with path.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


def _ledger_traffic(path: Path | None, report: Path | None = None) -> Any:
    """The customers' figures from a demo's or drill's ledger; lost and duplicated from its
    report once the run has been reconciled."""
    if path is None:
        return None
    from cutover.drill.traffic import TrafficCounts
    from cutover.engine.progress import Traffic
    from cutover.sim.ledger import read_ledger

    counts, first, last = TrafficCounts(), None, None
    for entry in read_ledger(path):
        counts.add(str(entry.get("outcome", "")))
        at = entry.get("sent_at")
        if isinstance(at, int | float):
            first = at if first is None else min(first, at)
            last = at if last is None else max(last, at)
    span = (last - first) if first is not None and last is not None else 0.0
    reconciled: dict[str, Any] = {}
    if report is not None:
        reconciled = json.loads(report.read_text()).get("reconciliation") or {}
    return Traffic(
        lost=reconciled.get("lost"),
        duplicated=reconciled.get("duplicated"),
        sent=counts.sent,
        acknowledged=counts.acknowledged,
        refused=counts.refused,
        unanswered=counts.unanswered,
        tx_per_s=counts.sent / span if span else 0.0,
    )


def register(app: typer.Typer) -> None:
    app.command(name="status")(status)
