"""The `cutover` command: one package, one module per group of commands, plain imports.

| module | commands |
| --- | --- |
| `plan` | validate, show, schema (never import Prefect) |
| `migrate` | migrate copy, catchup, drain, verify |
| `migrate_status` | migrate status, rejects, capture (added by `migrate`) |
| `estate` | estate serve, simulate, reconcile |
| `notices` | notices |
| `demo` | demo, drill |
| `run` | run, rollback, journal |
| `gate` | gate list, approve, hold, decide |
| `server` | server start |
| `deploy` | deploy |
"""

from __future__ import annotations

from cutover.cli import demo, deploy, estate, gate, migrate, notices, plan, run, server
from cutover.cli.app import app, main

__all__ = ["app", "main"]

for _module in (plan, migrate, estate, notices, demo, run, gate, server, deploy):
    _module.register(app)
