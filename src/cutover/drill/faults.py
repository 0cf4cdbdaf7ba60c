"""Drill faults: what goes wrong on purpose while a rehearsal runs.

A faults file (YAML, checked like a plan, errors as `FILE:LINE: message`):

```yaml
faults:
  - system: mobile-app          # 503s on its first three freeze/switch calls: retried
    calls: [freeze, switch]
    fail_next: 3
    fail_status: 503
  - system: pos-stores          # slow answers
    latency_ms: 200
  - system: loyalty-core        # its own verification fails: the phase stops, the drill rolls back
    calls: [verify]
    fail_next: 1000
    fail_status: 500
```

Each entry sets the estate's fault knobs for one system (`PUT /systems/<id>/sim/v1/faults`,
see docs/control-api.md); the knobs are cleared before the rollback, so the way back is
rehearsed on healthy systems.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from cutover.errors import PlanError, UsageError
from cutover.plan.loader import load_yaml, parse_model
from cutover.plan.models import Plan
from cutover.sim.faults import Faults


class SystemFaults(Faults):
    model_config = ConfigDict(extra="forbid")
    system: str = Field(description="the system the knobs apply to")


class FaultsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    faults: list[SystemFaults] = Field(default_factory=list)


def load_faults(path: Path, plan: Plan) -> FaultsFile:
    doc = load_yaml(path, kind="faults")
    faults = parse_model(doc, FaultsFile, what="faults file")
    known = {s.id for s in plan.systems}
    problems = [
        doc.source.problem(("faults", i, "system"), f"unknown system {f.system!r}")
        for i, f in enumerate(faults.faults)
        if f.system not in known
    ]
    if problems:
        raise PlanError(problems)
    return faults


def _put(url: str, token: str | None, system: str, knobs: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.put(f"{url}/systems/{system}/sim/v1/faults", json=knobs, headers=headers)
    if response.status_code != 200:
        raise UsageError(f"the estate refused faults for {system}: {response.text[:200]}")


def apply_faults(faults: FaultsFile, url: str, token: str | None) -> None:
    for item in faults.faults:
        _put(url, token, item.system, item.model_dump(exclude={"system"}))


def clear_faults(faults: FaultsFile, url: str, token: str | None) -> None:
    for item in faults.faults:
        _put(url, token, item.system, Faults().model_dump())
