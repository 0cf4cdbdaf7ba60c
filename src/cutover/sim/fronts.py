"""Which front system takes a transaction: the estate's fronts, and fallbacks between their kinds."""

from __future__ import annotations

import httpx

from cutover.errors import UsageError

FALLBACK: dict[str, tuple[str, ...]] = {
    "pos": ("pos", "partner-pos", "app", "web", "customer-service"),
    "partner-pos": ("partner-pos", "pos", "app", "web", "customer-service"),
    "app": ("app", "web", "pos", "customer-service", "partner-pos"),
    "web": ("web", "app", "pos", "customer-service", "partner-pos"),
    "customer-service": ("customer-service", "app", "web", "pos", "partner-pos"),
}


class Router:
    """Which front system takes a transaction of a given channel from a given member."""

    def __init__(self, fronts: list[tuple[str, str]]) -> None:
        if not fronts:
            raise UsageError(
                "the estate has no front systems (no system with `front:` in the plan)"
            )
        self.by_kind: dict[str, list[str]] = {}
        for system, kind in fronts:
            self.by_kind.setdefault(kind, []).append(system)

    def route(self, channel: str, member_id: int) -> str:
        for kind in FALLBACK.get(channel, (channel,)):
            systems = self.by_kind.get(kind)
            if systems:
                return systems[member_id % len(systems)]
        return next(iter(self.by_kind.values()))[0]


def estate_root(url: str) -> str:
    """The estate's root URL from its root or from a `.../systems/{system}` template."""
    url = url.rstrip("/")
    if "/systems/" in url:
        url = url.split("/systems/")[0]
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--target {url!r}: give the estate's URL, like http://127.0.0.1:8700")
    return url


def discover_fronts(url: str, token: str | None) -> list[tuple[str, str]]:
    """(system, front kind) of every front system the estate serves."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(f"{estate_root(url)}/estate/v1/systems", headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise UsageError(
            f"cannot reach the estate at {estate_root(url)}: {type(exc).__name__}"
        ) from None
    if response.status_code == 401:
        raise UsageError("the estate refused the token: set CUTOVER_ESTATE_TOKEN to its token")
    if response.status_code != 200:
        raise UsageError(f"the estate at {estate_root(url)} answered {response.status_code}")
    return [(s["id"], s["front"]) for s in response.json()["systems"] if s.get("front")]
