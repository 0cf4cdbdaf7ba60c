"""No freeze inside a window to avoid: before a cut starts, the run waits until it fits.

The timeline already plans each cut (a freeze up to its unfreeze) clear of the
plan's windows (`avoid:`, `cutover.plan.windows`); on the night a system may still
reach its freeze early or late. `wait_outside_windows` is called before a cut
starts: if, on the run's clock (plan time: a compressed drill waits in plan time),
the cut would start inside a window or run into one by its expected duration, the
run waits until it fits, never silently: a decision row "waiting: no freeze during
Mon-Fri 05:00-09:00 (until 09:00)" for the system's department (on its board, as
the "waiting for a worker" rows are), a log line, and a "ready" row when it goes.

A cut already begun (a resumed run whose journal has any of its steps) never waits:
writes may be held, and holding them longer is worse than the window.
"""

from __future__ import annotations

from cutover.logs import get_logger
from cutover.plan.models import FreezeStep, Step
from cutover.plan.windows import earliest_start

from .context import RunContext

log = get_logger("cutover.windows")

GATE_PREFIX = "avoid-"
"""Decision rows of a wait are journaled under gate `avoid-<system>`."""
WAITER = "cutover"


def wait_outside_windows(ctx: RunContext, system_id: str, unit: list[Step]) -> None:
    """Return when the cut `unit` may start outside every window to avoid (at once if it
    is not a cut, has no windows, or already began); until then wait, journaled."""
    if not unit or not isinstance(unit[0], FreezeStep):
        return
    windows = [w for w, _ in ctx.plan.avoid_windows(system_id, ctx.request.env)]
    if not windows:
        return
    keys = {step.key for step in unit}
    history = ctx.journal.history(ctx.run_key)
    if any(r.system == system_id and r.step in keys and r.action == "do" for r in history):
        return  # a resumed cut: go on at once
    clock = ctx.clock()
    now = clock.now()
    length = sum((step.planned(ctx.request.env) for step in unit), start=now - now)
    zone = ctx.plan.zone
    fit = earliest_start(now, length, windows, zone)
    if fit is None or not fit[1]:
        return  # fits now (or never: lint refuses such a plan; hold nobody forever)
    start, clashes = fit
    local = start.astimezone(zone)
    until = local.strftime("%H:%M" if local.date() == now.astimezone(zone).date() else "%a %H:%M")
    message = f"waiting: no freeze during {clashes[0].window} (until {until})"
    gate, department = GATE_PREFIX + system_id, ctx.plan.system(system_id).department
    ctx.journal.decide(ctx.run_key, gate, department, "waiting", WAITER, message)
    log.warning("waiting_for_window", system=system_id, window=str(clashes[0].window), until=until)
    clock.wait_until(start, tick=1.0)
    done = f"{clashes[0].window} over at {until}: the freeze starts"
    ctx.journal.decide(ctx.run_key, gate, department, "ready", WAITER, done)
    log.info("window_over", system=system_id, window=str(clashes[0].window))
