"""What a run shows while it goes: the seam between the engine and whatever displays it.

The engine says what happened (`emit`), which notices to deliver (`sinks`) and when
the boards are stale (`board`); the flows plug the Prefect UI in (events,
artifacts), tests plug in a recorder, and `QuietView` shows nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from cutover.clock import RunClock
from cutover.journal import StepRecord
from cutover.notices.publish import Sink


class RunView(Protocol):
    """Where a run's events, notices and boards go."""

    @property
    def sinks(self) -> Sequence[Sink]:
        """Notice sinks besides the run's outbox file."""
        ...

    def emit(
        self,
        name: str,
        *,
        system: str | None = None,
        step: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Tell subscribers that `name` happened (a step started, a notice went out...)."""
        ...

    def board(self, history: list[StepRecord], clock: RunClock, changed: set[str] | None) -> None:
        """Refresh the status boards (`changed`: only these departments; None: all)."""
        ...

    def flush(self) -> None:
        """Write what the sinks collected since the last call."""
        ...


class QuietView:
    """A view that shows nothing: for runs and tests without a UI."""

    sinks: Sequence[Sink] = ()

    def emit(
        self,
        name: str,
        *,
        system: str | None = None,
        step: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        return None

    def board(self, history: list[StepRecord], clock: RunClock, changed: set[str] | None) -> None:
        return None

    def flush(self) -> None:
        return None
