"""Notices during a live run: which are due now, from the journal and the run's clock.

The planned lifecycle (`derive`) says when notices *should* go out. The live run
says when they really do:

- *advance*: at its planned time (in a drill, advance notices whose time has
  already passed go out when the run starts);
- *started*: when the first step that degrades the feature really starts;
- *extended*: when the window is still open and its forecast end passes the end
  customers were told by more than `notices.extend_threshold` (default: 15 minutes
  or a quarter of the window, whichever is larger); the new end is announced, each
  extension is a new revision, and a window is extended at most MAX_EXTENSIONS
  times (so at most that many per channel, and one email per change of the end);
- *restored*: when the last degrading step is really done, at the real time;
- *rolled_back*: when a rollback closes a window that had started.

A window's forecast length is the *systems' time* (`notices.forecast`): the plan's
durations plus only the overrun of each system's own work, pinned at the window's
real start; so a compressed drill's orchestration (time between steps, runs
starting) never makes a window late or over budget. A window that begins late says
its later end in its *started* notice (no extra message). In real time (scale 1)
the wall clock counts as well: customers wait for whatever delays the work, and a
second of orchestration is nothing there.

Everything is computed from the journal, so a resumed run (or another process)
reaches the same decisions; the publisher's delivery log keeps each notice to one
delivery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cutover.clock import utcnow
from cutover.journal import StepRecord
from cutover.notices.derive import NoticeEvent, derive, plan_key
from cutover.notices.forecast import own_work, systems_timeline
from cutover.plan.models import Plan
from cutover.plan.timeline import Timeline, degrade_ranges

EXTENSION_MARGIN = 0.25
"""An extension announces the forecast end plus this share of the window (never too tight)."""
MAX_EXTENSIONS = 3
"""A window is re-announced as extended at most this many times."""

_State = dict[tuple[str, str], tuple[datetime | None, str | None, datetime | None]]


@dataclass
class _Contributor:
    system: str
    first: str
    last: str
    steps: list[str]
    planned: dict[str, timedelta]


@dataclass
class _Window:
    feature: str
    index: int
    start: datetime
    end: datetime
    contributors: list[_Contributor]
    announced_end: datetime
    threshold: timedelta
    revision: int = 0
    extensions: int = 0
    started_at: datetime | None = None
    closed: bool = False
    sent: set[str] = field(default_factory=set)


class LiveNotices:
    """Tracks every feature window of a run and says which notices are due."""

    def __init__(self, plan: Plan, timeline: Timeline, scale: float = 1.0) -> None:
        self.plan = plan
        self.timeline = timeline
        self.scale = scale
        self.key = plan_key(plan)
        self.planned = derive(plan, timeline)
        self.windows: list[_Window] = []
        self._state: _State = {}
        self._now = plan.starts_at
        self._systems = timeline
        ranges: dict[str, list[tuple[str, str, str]]] = {}
        for system in plan.systems:
            for feature, first, last in degrade_ranges(system):
                ranges.setdefault(feature, []).append((system.id, first, last))
        for fw in timeline.features:
            if plan.feature(fw.feature).notice is None:
                continue
            for index, window in enumerate(fw.windows):
                contributors = []
                for system_id, first, last in ranges.get(fw.feature, []):
                    if system_id not in window.systems:
                        continue
                    start = timeline.step(system_id, first).start
                    if not window.start <= start < window.end:
                        continue
                    keys = [s.key for s in plan.system(system_id).steps]
                    span = keys[keys.index(first) : keys.index(last) + 1]
                    planned = {k: timeline.step(system_id, k).duration for k in span}
                    contributors.append(_Contributor(system_id, first, last, span, planned))
                threshold = plan.notices.threshold(window.duration)
                self.windows.append(
                    _Window(
                        fw.feature,
                        index,
                        window.start,
                        window.end,
                        contributors,
                        window.end,
                        threshold,
                    )
                )

    def due(
        self,
        history: list[StepRecord],
        now: datetime,
        to_plan: Any = None,
        real_now: datetime | None = None,
    ) -> list[NoticeEvent]:
        """Notices to publish now (plan time `now`); each is returned once per tracker.

        `to_plan` turns the journal's real times into plan time (none: they are the same,
        and `real_now` defaults to `now`; else to the present moment).
        """
        convert = to_plan or (lambda t: t)
        real = real_now or (now if to_plan is None else utcnow())
        self._systems = systems_timeline(
            self.plan, self.timeline, own_work(history), self.scale, real
        )
        state: _State = {}
        for record in history:
            if record.action != "do":
                continue
            first_start, _, ended = state.get((record.system, record.step), (None, None, None))
            if record.status == "started" and first_start is None:
                first_start = convert(record.at)
            if record.status in ("done", "skipped", "failed"):
                ended = convert(record.at)
            state[(record.system, record.step)] = (first_start, record.status, ended)

        self._state = state
        self._now = now
        out: list[NoticeEvent] = []
        for planned in self.planned:
            if planned.kind == "advance" and planned.at <= now:
                out += self._once(self._window(planned), planned)
        for w in self.windows:
            if w.closed:
                continue
            starts = [state.get((c.system, c.first), (None, None, None))[0] for c in w.contributors]
            begun = [s for s in starts if s is not None]
            if not begun:
                continue
            if w.started_at is None:
                w.started_at = min(begun)
                late = self._forecast(w, state, now)[1]
                if late > w.announced_end:  # began late: tell the real end from the start
                    w.announced_end = _round_up(late)
                out += self._once(w, self._event(w, "started", w.started_at))
            finished = [state.get((c.system, c.last), (None, None, None)) for c in w.contributors]
            if all(f[1] in ("done", "skipped") for f in finished):
                ended = max((f[2] for f in finished if f[2] is not None), default=now)
                w.closed = True
                out += self._once(w, self._event(w, "restored", ended, end=ended))
                continue
            forecast = self._forecast(w, state, now)[1]
            if forecast - w.announced_end > w.threshold and w.extensions < MAX_EXTENSIONS:
                margin = (w.end - w.start) * EXTENSION_MARGIN
                new_end = _round_up(max(forecast, now) + margin)  # never an end already past
                w.revision += 1
                w.extensions += 1
                w.announced_end = new_end
                out += self._once(w, self._event(w, "extended", now, end=new_end))
        return out

    def over_budget(self, budgets: dict[str, timedelta]) -> list[tuple[str, int, timedelta]]:
        """Open windows whose projected outage (start to forecast end) exceeds the budget.

        (feature, window index, projected outage), from the state of the last `due` call.
        """
        out = []
        for w in self.windows:
            limit = budgets.get(w.feature)
            if limit is None or w.started_at is None or w.closed:
                continue
            start, end = self._forecast(w, self._state, self._now)
            projected = end - start
            if projected > limit:
                out.append((w.feature, w.index, projected))
        return out

    def rolled_back(self, now: datetime) -> list[NoticeEvent]:
        """'Back on the previous program' for every window that started and is not closed."""
        out = []
        for w in self.windows:
            if w.started_at is not None and not w.closed:
                w.closed = True
                w.revision += 1
                out += self._once(w, self._event(w, "rolled_back", now, end=now))
        return out

    def open_windows(self) -> list[tuple[str, datetime]]:
        """(feature, announced end) of every window customers were told is in progress."""
        return [(w.feature, w.announced_end) for w in self.windows if w.started_at and not w.closed]

    # ------------------------------------------------------------------------

    def _window(self, event: NoticeEvent) -> _Window:
        return next(
            w for w in self.windows if (w.feature, w.index) == (event.feature, event.window)
        )

    def _event(
        self, w: _Window, kind: Any, at: datetime, end: datetime | None = None
    ) -> NoticeEvent:
        return NoticeEvent(
            self.key,
            w.feature,
            kind,
            at,
            w.index,
            w.started_at or w.start,
            end or w.announced_end,
            w.revision,
        )

    @staticmethod
    def _once(w: _Window, event: NoticeEvent) -> list[NoticeEvent]:
        marker = f"{event.kind}:{event.revision}"
        if marker in w.sent:
            return []
        w.sent.add(marker)
        return [event]

    def _forecast(self, w: _Window, state: _State, now: datetime) -> tuple[datetime, datetime]:
        """(start, end) of the window as forecast, both as customers live them.

        Its length is the systems' time (planned work plus own overruns), pinned at the
        window's real start: whatever delayed the start was already told in the *started*
        notice, and orchestration inside the window does not lengthen it. In real time
        the wall clock's forecast counts too (the later end)."""
        starts = [self._systems.step(c.system, c.first).start for c in w.contributors]
        ends = [self._systems.step(c.system, c.last).end for c in w.contributors]
        length = max(ends, default=w.end) - min(starts, default=w.start)
        start = w.started_at or min(starts, default=w.start)
        end = start + length
        if self.scale == 1.0:
            end = max(end, _wall_forecast(w, state, now))
        return start, end


def _wall_forecast(w: _Window, state: _State, now: datetime) -> datetime:
    """The end if every step still to do takes its planned time from now (real time)."""
    latest = now
    for c in w.contributors:
        remaining = timedelta()
        for key in c.steps:
            started, status, _ = state.get((c.system, key), (None, None, None))
            if status in ("done", "skipped"):
                continue
            if started is not None:
                remaining += max(c.planned[key] - (now - started), timedelta())
            else:
                remaining += c.planned[key]
        latest = max(latest, now + remaining)
    return latest


def _round_up(moment: datetime, minutes: int = 5) -> datetime:
    step = timedelta(minutes=minutes)
    base = moment.replace(second=0, microsecond=0)
    extra = base.minute % minutes
    rounded = base - timedelta(minutes=extra)
    return rounded + step if rounded < moment else rounded
