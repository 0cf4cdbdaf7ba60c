"""Serve the cutover flows as Prefect deployments (`python -m cutover.flows.serve`).

    PREFECT_API_URL=http://127.0.0.1:4200/api python -m cutover.flows.serve

creates three deployments — `cutover/cutover`, `cutover-system/cutover-system`
and `cutover-rollback/cutover-rollback` — and runs them in this process. To run
per-system flows on workers placed near each system's network, use `prefect.yaml`
(`prefect deploy --all`) and start a worker per network:

    prefect worker start --pool stores-network

then start the cutover with `system_deployment="cutover-system/stores-network"` in
its request: each system's flow run is created through that deployment (still a
child of the cutover run, with the same tags) and picked up by the worker there.
"""

from __future__ import annotations

from typing import Any

from prefect import serve

from .cutover_flow import cutover
from .rollback_flow import rollback
from .system_flow import system_cutover


def main() -> None:
    deployments: list[Any] = [
        cutover.to_deployment(name="cutover", tags=["cutover"]),
        system_cutover.to_deployment(name="cutover-system", tags=["cutover"]),
        rollback.to_deployment(name="cutover-rollback", tags=["cutover"]),
    ]
    serve(*deployments, limit=64)


if __name__ == "__main__":
    main()
