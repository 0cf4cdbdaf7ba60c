"""Real receivers on loopback for the notice sinks' tests, and a way to die mid-delivery.

Each receiver can kill the sending process (SIGKILL) right after it has *applied* its
n-th request and before answering: the one gap no sender can see into ("the receiver
got it, we never heard back"). `Kills` holds who to kill and when.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cutover.notices.webhook import verify_signature


class Kills:
    """Kill `victim` after the `at`-th request (1-based) has been applied; None: never."""

    def __init__(self) -> None:
        self.at: int | None = None
        self.victim: int | None = None
        self.count = 0
        self.lock = threading.Lock()

    def arm(self, at: int | None) -> None:
        with self.lock:
            self.at, self.victim, self.count = at, None, 0

    def after_applied(self) -> None:
        with self.lock:
            self.count += 1
            due = self.at is not None and self.count == self.at
        if not due:
            return
        deadline = time.monotonic() + 10
        while self.victim is None and time.monotonic() < deadline:
            time.sleep(0.005)  # the parent sets the pid right after the fork
        if self.victim is not None:
            os.kill(self.victim, signal.SIGKILL)
            time.sleep(0.05)


Route = Callable[[str, str, dict[str, Any], bytes, Any], tuple[int, Any]]


class LoopbackServer:
    """A threading HTTP server on 127.0.0.1 that hands every request to `route`."""

    def __init__(self, route: Route) -> None:
        self.kills = Kills()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                with server.lock:
                    status, answer = route(self.command, parts.path, query, raw, self.headers)
                if 200 <= status < 300:
                    server.kills.after_applied()
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- webhook, chat


class WebhookReceiver(LoopbackServer):
    """Checks each request's HMAC signature and applies each Idempotency-Key once."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.requests: list[str] = []
        self.applied: dict[str, dict[str, Any]] = {}
        self.refused = 0
        self.down = False
        super().__init__(self.route)

    def route(self, method: str, path: str, query: Any, raw: bytes, headers: Any) -> Any:
        if self.down:
            return 503, {"error": "down for maintenance"}
        if not verify_signature(self.secret, headers, raw):
            self.refused += 1
            return 401, {"error": "bad signature"}
        key = headers["Idempotency-Key"]
        self.requests.append(key)
        self.applied.setdefault(key, json.loads(raw))
        return 200, {}


class ChatReceiver(LoopbackServer):
    """Stands in for Slack and Teams incoming webhooks: checks the message shape of the
    path's service (`/services/...` Slack, `/workflows/...` Teams), applies every post
    (chat services do not deduplicate)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        super().__init__(self.route)

    def route(self, method: str, path: str, query: Any, raw: bytes, headers: Any) -> Any:
        body = json.loads(raw)
        if path.startswith("/services/"):
            if method != "POST" or not isinstance(body.get("text"), str) or set(body) != {"text"}:
                return 400, {"error": "invalid_payload"}
            self.posts.append(("slack", body))
            return 200, "ok"
        if "/workflows/" in path and path.endswith("/triggers/manual/paths/invoke"):
            attachments = body.get("attachments") or [{}]
            card = attachments[0].get("content") or {}
            if body.get("type") != "message" or card.get("type") != "AdaptiveCard":
                return 400, {"error": "not an adaptive card message"}
            if "sig" not in query:
                return 401, {"error": "unsigned"}
            self.posts.append(("teams", body))
            return 202, {}
        return 404, {"error": "no such hook"}

    def texts(self, service: str) -> list[str]:
        out = []
        for kind, body in self.posts:
            if kind == service == "slack":
                out.append(body["text"])
            elif kind == service == "teams":
                card = body["attachments"][0]["content"]
                out.append(" ".join(b["text"] for b in card["body"]))
        return out


# ---------------------------------------------------------------- SMTP


class SmtpReceiver:
    """aiosmtpd on loopback: keeps every message; `by_id` is what a mail store shows (one
    message per Message-ID)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.kills = Kills()
        self.raw: list[Any] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                receiver.raw.append(
                    message_from_bytes(envelope.original_content, policy=policy.default)
                )
                receiver.kills.after_applied()
                return "250 Message accepted for delivery"

        with socket.socket() as probe:  # a free port (aiosmtpd's own start-up check needs one)
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def by_id(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for msg in self.raw:
            out.setdefault(str(msg["Message-ID"]).strip(), msg)
        return out

    def close(self) -> None:
        self.controller.stop()


# ---------------------------------------------------------------- Statuspage

INCIDENT_KEYS = frozenset(
    {
        "name", "status", "impact_override", "scheduled_for", "scheduled_until",
        "scheduled_remind_prior", "scheduled_auto_in_progress", "scheduled_auto_completed",
        "auto_transition_to_maintenance_state", "auto_transition_to_operational_state",
        "auto_transition_deliver_notifications_at_start",
        "auto_transition_deliver_notifications_at_end", "reminder_intervals", "metadata",
        "deliver_notifications", "auto_tweet_at_beginning", "auto_tweet_on_completion",
        "auto_tweet_on_creation", "auto_tweet_one_hour_before", "backfill_date", "backfilled",
        "body", "components", "component_ids", "scheduled_auto_transition",
    }
)  # fmt: skip
"""The fields of `incident` in Statuspage's create and update requests (API v1)."""
BOOLEAN_KEYS = frozenset(k for k in INCIDENT_KEYS if k.startswith(("auto_", "scheduled_a")))
BOOLEAN_KEYS |= {"scheduled_remind_prior", "deliver_notifications", "backfilled"}
SCHEDULED = ("scheduled", "in_progress", "verifying", "completed")
REALTIME = ("investigating", "identified", "monitoring", "resolved")
COMPONENT_STATUSES = {
    "operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage",
}  # fmt: skip
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$")


class StatuspageStub(LoopbackServer):
    """A strict stand-in for Atlassian Statuspage's incidents API (v1).

    Refuses (4xx) any request not in the real API's shape: another path or page (404),
    no or wrong `Authorization: OAuth KEY` (401), a body that is not `{"incident": {...}}`
    with known fields of the right types (400/422), an unknown status, a component id
    the page does not have, a timestamp that is not ISO 8601 with a zone, a maintenance
    that ends before it starts, a scheduled maintenance going back in its lifecycle.
    """

    def __init__(self, page: str, key: str, components: set[str]) -> None:
        self.page, self.key, self.components = page, key, components
        self.incidents: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, int]] = []
        super().__init__(self.route)

    def route(self, method: str, path: str, query: Any, raw: bytes, headers: Any) -> Any:
        status, answer = self._route(method, path, query, raw, headers)
        self.requests.append((method, path, status))
        return status, answer

    def _route(self, method: str, path: str, query: Any, raw: bytes, headers: Any) -> Any:
        found = re.fullmatch(r"/v1/pages/([^/]+)/incidents(?:/([^/]+))?", path)
        if not found or found.group(1) != self.page:
            return 404, {"error": "Not found"}
        if headers.get("Authorization") != f"OAuth {self.key}":
            return 401, {"error": "Could not authenticate"}
        incident_id = found.group(2)
        if incident_id is None and method == "GET":
            return 200, self._list(query)
        if incident_id is None and method == "POST":
            return self._create(raw, headers)
        if incident_id not in self.incidents:
            return 404, {"error": "Incident not found"}
        if method == "GET":
            return 200, self.incidents[incident_id]
        if method in ("PATCH", "PUT"):
            return self._update(self.incidents[incident_id], raw, headers)
        return 405, {"error": "Method not allowed"}

    def _list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        limit, page = int(query.get("limit", 100)), int(query.get("page", 1))
        q = query.get("q", "").lower()
        found = [
            i
            for i in reversed(self.incidents.values())
            if q in i["name"].lower() or any(q in u["body"].lower() for u in i["incident_updates"])
        ]
        return found[(page - 1) * limit : page * limit]

    def _fields(self, raw: bytes, headers: Any) -> tuple[dict[str, Any] | None, str]:
        if "application/json" not in (headers.get("Content-Type") or ""):
            return None, "Content-Type must be application/json"
        try:
            body = json.loads(raw)
        except ValueError:
            return None, "body is not JSON"
        if not isinstance(body, dict) or set(body) != {"incident"}:
            return None, "body must be {incident: {...}}"
        fields = body["incident"]
        if not isinstance(fields, dict):
            return None, "incident must be an object"
        unknown = set(fields) - INCIDENT_KEYS
        if unknown:
            return None, f"unknown fields {sorted(unknown)}"
        for key in BOOLEAN_KEYS & set(fields):
            if not isinstance(fields[key], bool):
                return None, f"{key} must be a boolean"
        for key in ("scheduled_for", "scheduled_until"):
            if key in fields and not (isinstance(fields[key], str) and _STAMP.match(fields[key])):
                return None, f"{key} is not an ISO 8601 time with a zone"
        if "name" in fields and not (
            isinstance(fields["name"], str) and 0 < len(fields["name"]) <= 255
        ):
            return None, "name must be 1 to 255 characters"
        if "body" in fields and not (
            isinstance(fields["body"], str) and len(fields["body"]) <= 25000
        ):
            return None, "body must be text of at most 25000 characters"
        ids = fields.get("component_ids", [])
        if not isinstance(ids, list) or not set(ids) <= self.components:
            return None, "component_ids names a component this page does not have"
        states = fields.get("components", {})
        if not isinstance(states, dict) or not set(states) <= self.components:
            return None, "components names a component this page does not have"
        if not set(states.values()) <= COMPONENT_STATUSES:
            return None, "unknown component status"
        meta = fields.get("metadata", {})
        if not isinstance(meta, dict) or not all(isinstance(v, dict) for v in meta.values()):
            return None, "metadata's top-level values must be objects"
        if "status" in fields and fields["status"] not in SCHEDULED + REALTIME:
            return None, f"unknown status {fields['status']!r}"
        return fields, ""

    def _create(self, raw: bytes, headers: Any) -> tuple[int, Any]:
        fields, error = self._fields(raw, headers)
        if fields is None:
            return 422, {"error": error}
        if "name" not in fields:
            return 422, {"error": "name is required"}
        if fields.get("status") == "scheduled" and not (
            "scheduled_for" in fields and "scheduled_until" in fields
        ):
            return 422, {"error": "a scheduled maintenance needs scheduled_for/until"}
        incident = {
            "id": f"inc{len(self.incidents) + 1:05d}",
            "name": fields["name"],
            "status": fields.get("status", "investigating"),
            "scheduled_for": fields.get("scheduled_for"),
            "scheduled_until": fields.get("scheduled_until"),
            "metadata": fields.get("metadata", {}),
            "component_ids": fields.get("component_ids", []),
            "incident_updates": [],
            "page_id": self.page,
        }
        error = self._apply(incident, fields, new=True)
        if error:
            return 422, {"error": error}
        self.incidents[incident["id"]] = incident
        return 201, incident

    def _update(self, incident: dict[str, Any], raw: bytes, headers: Any) -> tuple[int, Any]:
        fields, error = self._fields(raw, headers)
        if fields is None:
            return 422, {"error": error}
        error = self._apply(incident, fields, new=False)
        return (422, {"error": error}) if error else (200, incident)

    def _apply(self, incident: dict[str, Any], fields: dict[str, Any], *, new: bool) -> str:
        status = fields.get("status", incident["status"])
        scheduled = incident["scheduled_for"] is not None
        if scheduled and status not in SCHEDULED:
            return f"{status!r} is not a status of a scheduled maintenance"
        if scheduled and SCHEDULED.index(status) < SCHEDULED.index(incident["status"]):
            return f"cannot go back from {incident['status']!r} to {status!r}"
        until = fields.get("scheduled_until", incident["scheduled_until"])
        if scheduled and _time(until) <= _time(incident["scheduled_for"]):
            return "scheduled_until must be after scheduled_for"
        incident["status"] = status
        incident["scheduled_until"] = until
        if not new or "body" in fields:
            incident["incident_updates"].append(
                {
                    "status": status,
                    "body": fields.get("body", ""),
                    "components": fields.get("components", {}),
                }
            )
        return ""

    def updates(self) -> list[tuple[str, str]]:
        """(incident name, status) of every update, in order, across incidents."""
        return [
            (i["name"], u["status"]) for i in self.incidents.values() for u in i["incident_updates"]
        ]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---------------------------------------------------------------- dying publishers


def publish_in_child(
    plan: Any, notices: list[Any], make_sinks: Callable[[], list[Any]], log: Any, kills: Kills,
    at: int | None,
) -> int:  # fmt: skip
    """Publish in a forked process that `kills` SIGKILLs after the receiver applied its
    `at`-th request (None: never). Its exit status: -9 killed, 0 all delivered, 3 a sink
    failed."""
    from cutover.notices import Publisher

    kills.arm(at)
    pid = os.fork()
    if pid == 0:  # the child: publish, maybe die on the way
        code = 1
        try:
            publisher = Publisher(plan, make_sinks(), log)
            publisher.publish(notices)
            code = 3 if publisher.failures else 0
        finally:
            os._exit(code)
    kills.victim = pid
    _, status = os.waitpid(pid, 0)
    kills.arm(None)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def demo_lifecycle(channel: str | None = None) -> tuple[Any, list[Any]]:
    """The demo plan's notices with an extension (redeem-rewards) and a rollback
    (rewards-in-app, instead of its restore), in the order a run sends them."""
    from datetime import timedelta

    from cutover.notices import derive, extended, render_all, rolled_back
    from cutover.plan import build_timeline, load_plan
    from support import PLANS

    plan = load_plan(PLANS / "demo.yaml").plan
    events = derive(plan, build_timeline(plan))
    out = []
    for event in events:
        if event.feature == "rewards-in-app" and event.kind == "restored":
            out.append(rolled_back(event, event.at - timedelta(minutes=10)))
            continue
        if event.feature == "redeem-rewards" and event.kind == "restored":
            started = next(e for e in out if e.feature == event.feature and e.kind == "started")
            out.append(extended(started, event.end + timedelta(minutes=20), event.at))
        out.append(event)
    return plan, render_all(plan, out, channel)  # type: ignore[arg-type]


def plan_with(folder: Any, sinks: str) -> Any:
    """The demo plan, in `folder` with its mapping files, with `sinks` (YAML lines under
    `notices:`, starting `  sinks:`) added."""
    import shutil

    from support import PLANS

    anchor = "  channels: [app-banner, status-page, email]\n"
    path = folder / "plan.yaml"
    path.write_text((PLANS / "demo.yaml").read_text().replace(anchor, anchor + sinks))
    for name in ("mappings", "carry-back"):
        if not (folder / name).exists():
            shutil.copytree(PLANS / name, folder / name)
    return path
