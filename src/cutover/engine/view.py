"""What a run shows while it goes: the seam between the engine and whatever displays it.

The engine says what happened (`emit`), which notices to deliver (`sinks`) and when
the boards are stale (`board`); the flows plug the Prefect UI in (events,
artifacts); tests may plug in a recorder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from cutover.clock import RunClock
from cutover.journal import Decision, StepRecord
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

    def board(
        self,
        history: list[StepRecord],
        decisions: list[Decision],
        clock: RunClock,
        changed: set[str] | None,
    ) -> None:
        """Refresh the status boards from the journal's steps and gate answers
        (`changed`: only these departments' boards; None: all)."""
        ...

    def flush(self) -> None:
        """Write what the sinks collected since the last call."""
        ...
