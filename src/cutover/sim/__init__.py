"""The simulated estate, the 15-type traffic simulator, and reconciliation.

    >>> from cutover.sim import running_estate
    >>> with running_estate("plans/demo.yaml", "staging", workdir=tmp) as estate:
    ...     ...  # estate.url, estate.base_url, estate.token

Nothing here imports Prefect; heavy modules (FastAPI, uvicorn) load only when
an estate starts.
"""

from __future__ import annotations

from cutover.sim.server import RunningEstate, running_estate

__all__ = ["RunningEstate", "running_estate"]
