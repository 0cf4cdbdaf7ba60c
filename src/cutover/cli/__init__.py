"""The `cutover` command: one package, one module per group of commands, plain imports.

| module | commands |
| --- | --- |
| `plan` | validate, show, schema (never import Prefect) |
| `migrate` | migrate copy, catchup, drain, verify |
| `migrate_status` | migrate status, rejects, capture (added by `migrate`) |
| `mapping` | mapping check (the gap analysis) |
| `estate` | estate serve, simulate, reconcile |
| `notices` | notices |
| `demo` | demo, drill |
| `run` | run, rollback, journal |
| `gate` | gate list, approve, hold, decide |
| `server` | server start |
| `deploy` | deploy |
| `trace` | trace (a data flow, hop by hop; never imports Prefect) |
"""

from __future__ import annotations

from cutover.cli import (
    demo,
    deploy,
    estate,
    gate,
    mapping,
    migrate,
    notices,
    plan,
    run,
    server,
    status,
    trace,
)
from cutover.cli.app import app, main

__all__ = ["app", "main"]

for _module in (
    plan,
    migrate,
    mapping,
    estate,
    notices,
    demo,
    run,
    status,
    gate,
    server,
    deploy,
    trace,
):
    _module.register(app)
