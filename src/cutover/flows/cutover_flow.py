"""The cutover flow: phases in order, a gate before each, systems concurrently within.

For each phase: wait for its start on the run's clock, hold at its gate until
every approver department signs, then run every system of the phase as its own
per-system flow run (all at once except where `depends_on` orders them), and
decide: the first failure stops the phase at a decision gate (retry, skip with a
reason, or roll back; a rollback decision hands over to the rollback flow, run as
a child of this one). Customer notices go out as the journal shows windows
opening, running late and closing. Everything is journaled, so the same request
with the same run key resumes where a crashed or cancelled run stopped.

The decisions themselves (gate timing, the decision loop, dependency order) live
in `cutover.engine`, tested without Prefect.
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

from prefect import flow, tags
from prefect.states import Completed
from prefect.task_runners import ThreadPoolTaskRunner

from cutover.engine.context import RunContext
from cutover.engine.phases import RollbackRequested, settle_phase, skipped_steps, wait_for_phase
from cutover.engine.request import RunRequest
from cutover.engine.results import RunSummary
from cutover.engine.watcher import RunWatcher
from cutover.logs import bind_context

from . import gates, ui, workers
from .dispatch import run_phase
from .rollback_flow import rollback

MAX_CONCURRENT_SYSTEMS = 32


@flow(
    name="cutover",
    flow_run_name="{request.run_key}",
    task_runner=cast(Any, ThreadPoolTaskRunner(max_workers=MAX_CONCURRENT_SYSTEMS)),
    persist_result=False,
    validate_parameters=True,
)
def cutover(request: RunRequest) -> RunSummary:
    """Run a whole cutover plan; returns how it ended (phases, systems, notices, skips)."""
    ctx = RunContext.load(request)  # lint runs here: a bad plan never starts
    workers.check_deployments(ctx)  # every pool the plan places systems in is deployed
    ui.tag_this_run(request.run_key, request.env)  # found by run key, however it was started
    ui.name_this_attempt(request.run_key)  # a resumed run: "<run key> (attempt 2)"
    bind_context(run=request.run_key)
    view = ui.PrefectView(ctx)
    ui.publish_timeline(ctx.plan, ctx.timeline, request.run_key)
    view.emit("run.started", payload={"plan": ctx.plan.name, "env": request.env})
    watcher = RunWatcher(ctx, view)
    summary = RunSummary(
        run_key=request.run_key,
        outcome="completed",
        phases=len(ctx.plan.phases),
        systems=len(ctx.plan.systems),
        notices=0,
        workdir=request.workdir,
    )
    ended = "failed"  # unless the loop below ends one of the ways it can
    try:
        with watcher.running(request.watch_interval):
            try:
                for index, phase in enumerate(ctx.plan.phases):
                    watcher.clock = wait_for_phase(ctx, index, watcher.clock)
                    if phase.gate is not None:
                        gates.sign_off(ctx, index)
                        view.emit("gate.approved", payload={"phase": phase.id})
                    view.emit("phase.started", payload={"phase": phase.id})
                    summary.skipped += settle_phase(
                        ctx,
                        index,
                        run=partial(run_phase, ctx, index, watcher=watcher),
                        decide=gates.failure_decider(ctx, index),
                    )
                    view.emit("phase.finished", payload={"phase": phase.id})
            except RollbackRequested as exc:
                summary.outcome, summary.stopped_at = "rollback-requested", str(exc)
        summary.skipped = skipped_steps(ctx)  # earlier attempts of this run key too
        if summary.outcome == "rollback-requested" and request.hand_over_rollback:
            view.emit("rollback.handover", payload={"reason": summary.stopped_at})
            with tags("rollback"):  # a child run: the same request, resumable
                summary.rollback = rollback(request)
            summary.outcome = "rolled-back"
        ended = summary.outcome
    finally:  # after the watcher's last tick: its notices and boards come first
        summary.notices = watcher.published
        summary.undelivered = watcher.undelivered()
        view.emit("run.finished", payload={"outcome": ended})
    # The outcome in the final state's message: whoever started the run (a deployment,
    # the UI) reads it there; a caller in this process gets the summary itself.
    return cast(RunSummary, Completed(message=f"outcome: {summary.outcome}", data=summary))
