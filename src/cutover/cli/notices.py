"""`cutover notices`: preview every customer notice a plan implies, with its send time."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cutover.errors import UsageError


class NoticeFormat(StrEnum):
    text = "text"
    json = "json"


def _moment(text: str, starts_at: datetime) -> datetime:
    from cutover.plan.durations import parse_duration

    if text.startswith("+"):
        return starts_at + parse_duration(text, allow_sign=True)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--at {text!r}: give an ISO 8601 time (2026-12-01T22:00-06:00) or an offset (+30h)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=starts_at.tzinfo)


def notices(
    plan: Annotated[Path, typer.Argument(help="The plan file.", show_default=False)],
    channel: Annotated[
        str | None, typer.Option("--channel", "-c", help="Only this channel (e.g. email).")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Show what customers see at this moment (ISO time or +OFFSET)."),
    ] = None,
    format: Annotated[NoticeFormat, typer.Option("--format", "-f")] = NoticeFormat.text,
) -> None:
    """Preview every customer notice: feature, kind, send time, channel, text."""
    from typing import get_args

    from cutover.notices import derive, in_effect, render_all
    from cutover.plan import build_timeline, load_plan
    from cutover.plan.models import Channel

    channels = get_args(Channel)
    if channel is not None and channel not in channels:
        raise UsageError(f"--channel {channel!r}: use one of {', '.join(channels)}")
    loaded = load_plan(plan)
    events = derive(loaded.plan, build_timeline(loaded.plan))
    if at is not None:
        events = in_effect(events, _moment(at, loaded.plan.starts_at))
    rendered = render_all(loaded.plan, events, channel)  # type: ignore[arg-type]
    if format is NoticeFormat.json:
        typer.echo(json.dumps([r.as_dict() for r in rendered], indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    from cutover.notices.render import when

    table = Table(title=f"Customer notices — {loaded.plan.name}", title_justify="left")
    for column in ("send at", "feature", "kind", "channel", "text"):
        table.add_column(column, overflow="fold")
    for r in rendered:
        table.add_row(
            when(r.event.at, loaded.plan), r.feature_name, r.event.kind, r.channel, r.text
        )
    Console(width=None if Console().is_terminal else 160).print(table)


def register(app: typer.Typer) -> None:
    app.command(name="notices")(notices)
