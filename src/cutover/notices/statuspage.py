"""A Statuspage sink: each feature window as a scheduled maintenance on Atlassian Statuspage.

Atlassian Statuspage REST API v1 (`Authorization: OAuth <key>`):

| notice | request |
| --- | --- |
| advance | `POST /v1/pages/{page}/incidents` a scheduled maintenance on the feature's component: `status: scheduled`, `scheduled_for`/`scheduled_until` the window, the text as `body` |
| started | `PATCH /v1/pages/{page}/incidents/{id}`: `in_progress`, component `under_maintenance` |
| extended | `PATCH`: the new `scheduled_until`, the text |
| restored | `PATCH`: `completed`, component `operational` |
| rolled_back | `PATCH`: `completed` with the rolled-back text, component `operational` |

(`verifying` is not used: a *restored* notice goes out once the systems verified.)

Exactly once across a kill: each window's incident carries a marker in its
`metadata` (`{"cutover": {"window": ...}}`), and its id is noted in the delivery
log as soon as it is created. A window with no noted incident is first looked for
(`GET /v1/pages/{page}/incidents`, by name, then by marker) before one is created,
so a kill between the creation and its note creates nothing twice. An update whose
intent has no outcome is checked against the incident (`GET .../incidents/{id}`:
status, or `scheduled_until` for an extension) and not sent again when it is
already there. Statuspage itself emails the page's subscribers (`deliver_notifications`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from cutover import secrets
from cutover.notices.derive import NoticeEvent, plan_key
from cutover.notices.http import Http
from cutover.notices.publish import Attempt
from cutover.notices.render import Rendered
from cutover.notices.select import Selects
from cutover.plan.models import Plan
from cutover.plan.notice_settings import STATUSPAGE_API

SEARCH_PAGES = 5
"""Pages of 100 incidents looked through for a window's marker before creating one."""

_UPDATE: dict[str, dict[str, Any]] = {
    "started": {"status": "in_progress", "component": "under_maintenance"},
    "extended": {"status": "in_progress"},
    "restored": {"status": "completed", "component": "operational"},
    "rolled_back": {"status": "completed", "component": "operational"},
}
_AT_OR_PAST = {
    "in_progress": {"in_progress", "verifying", "completed"},
    "completed": {"completed"},
}


def stamp(moment: datetime) -> str:
    """ISO 8601 in UTC, as the API writes it: `2026-12-01T03:00:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_marker(plan: Plan, event: NoticeEvent) -> str:
    raw = f"{plan_key(plan)}|{event.feature}|{event.window}"
    return f"{event.feature}-{event.window}-{hashlib.sha256(raw.encode()).hexdigest()[:12]}"


class StatuspageSink(Selects):
    """Each window of each feature in `components` as one scheduled maintenance incident."""

    def __init__(
        self,
        name: str,
        *,
        page: str,
        api_key: str,
        components: Mapping[str, str],
        base_url: str | None = None,
        channels: Collection[str] | None = None,
        http: Http | None = None,
    ) -> None:
        self.name = name
        self.page = page
        self.api_key = api_key
        self.components = dict(components)
        self.base = (base_url or STATUSPAGE_API).rstrip("/") + f"/v1/pages/{page}/incidents"
        self.channels = channels
        self.http = http or Http(name)

    def close(self) -> None:
        self.http.close()

    def accepts(self, plan: Plan, notice: Rendered) -> bool:
        return notice.event.feature in self.components and super().accepts(plan, notice)

    def deliver(self, plan: Plan, notice: Rendered, attempt: Attempt) -> None:
        event = notice.event
        marker = window_marker(plan, event)
        incident, created = self._incident(plan, notice, marker, attempt)
        if event.kind == "advance":
            return
        update = _UPDATE[event.kind]
        if attempt.earlier is not None and self._applied(incident, event):
            return
        body: dict[str, Any] = {"status": update["status"]}
        if not created:
            body["body"] = notice.text
        if event.kind == "extended":
            body["scheduled_until"] = stamp(event.end)
        if "component" in update:
            component = self.components[event.feature]
            body["components"] = {component: update["component"]}
            body["component_ids"] = [component]
        attempt.intend(incident=incident)
        self._call("PATCH", f"{self.base}/{incident}", json={"incident": body})

    # ------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"OAuth {secrets.resolve(self.api_key)}"}

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        return self.http.call(method, url, headers=self._headers, **kwargs).json()

    def _incident(
        self, plan: Plan, notice: Rendered, marker: str, attempt: Attempt
    ) -> tuple[str, bool]:
        """The window's incident id, and whether it was created just now."""
        for note in attempt.notes():
            if note.get("window") == marker:
                return str(note["incident"]), False
        name = f"{notice.feature_name}: planned maintenance"
        found = self._find(name, marker)
        made = found is None
        if found is None:
            event = notice.event
            attempt.intend(create=marker)
            created = self._call(
                "POST",
                self.base,
                json={
                    "incident": {
                        "name": name,
                        "status": "scheduled",
                        "scheduled_for": stamp(event.start),
                        "scheduled_until": stamp(event.end),
                        "body": notice.text,
                        "component_ids": [self.components[event.feature]],
                        "deliver_notifications": True,
                        "scheduled_remind_prior": False,
                        "scheduled_auto_in_progress": False,
                        "scheduled_auto_completed": False,
                        "metadata": {"cutover": {"window": marker, "feature": event.feature}},
                    }
                },
            )
            found = str(created["id"])
        attempt.note(window=marker, incident=found)
        return found, made

    def _find(self, name: str, marker: str) -> str | None:
        for page in range(1, SEARCH_PAGES + 1):
            listed = self._call("GET", self.base, params={"q": name, "limit": 100, "page": page})
            for incident in listed:
                meta = (incident.get("metadata") or {}).get("cutover") or {}
                if meta.get("window") == marker:
                    return str(incident["id"])
            if len(listed) < 100:
                return None
        return None

    def _applied(self, incident: str, event: NoticeEvent) -> bool:
        """Whether an update sent before a kill is already on the incident."""
        current = self._call("GET", f"{self.base}/{incident}")
        if event.kind == "extended":
            until = str(current.get("scheduled_until") or "")
            try:
                return datetime.fromisoformat(until.replace("Z", "+00:00")) == event.end.replace(
                    microsecond=0
                )
            except ValueError:
                return False
        wanted = _UPDATE[event.kind]["status"]
        return current.get("status") in _AT_OR_PAST[wanted]
