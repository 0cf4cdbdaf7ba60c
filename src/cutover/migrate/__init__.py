"""The data plane: move a system's data from its legacy store to its new one while writes go on.

The public API, called by the Prefect flows (one call per step) and by
`cutover migrate ...`; every function takes the plan's `Store` settings for the
source and the target (`environment.stores[step.source]`, or an `Endpoint` that adds
a name for messages) and the mapping (`mapping.MappingRef`): the plan's loaded file
(`loaded.mapping(step)`, parsed once by `load_plan`), a compiled `Mapping`, or a path:

    from cutover import migrate

    migrate.run_copy(src, dst, mapping)            # capture on, snapshot in checkpointed chunks
    migrate.catch_up(src, dst, mapping, max_lag_s=step.max_lag.total_seconds())
    report = migrate.final_drain(src, dst, mapping,
                                 freeze=lambda: client.freeze(...),      # writes buffered
                                 switch=lambda: client.switch(...),      # only if verified
                                 unfreeze=lambda: client.unfreeze(...))  # always called
    report.pause_s                                  # the only write pause, measured
    migrate.verify(src, dst, mapping)               # counts, checksums, conservation
    migrate.status(src, dst, mapping)               # read from the stores, by anyone
    migrate.install_capture(dst, mapping, reverse=True)   # after the switch, for rollback
    migrate.remove_capture(src, mapping)            # when the cutover is complete

| function | does | undo |
| --- | --- | --- |
| `run_copy` | installs capture, copies the snapshot (resumes a job under way); file feeds too | drop the target table; `remove_capture` |
| `catch_up` | applies changes until lag < `max_lag_s` and `max_lag_entries` | nothing to undo: the target only converges |
| `final_drain` | freeze, drain, verify, switch, unfreeze; `pause_s` | on failure it unfreezes without switching |
| `verify` | full comparison; `VerificationError` (`.report`) on any difference | read-only |
| `status`, `write_rejects` | the job's state; the reject file | read-only |
| `install_capture`, `remove_capture`, `capture_status` | change capture on a store (`reverse=True`: the target table) | each other |

Errors (`cutover.errors`): `PlanError` for a bad mapping and `StoreError` for a
store that cannot be used (unreachable, refused credentials, missing table, schema
drift), both exit 2 and raised before anything is written; `MigrationError` when a
store fails part-way (run again: it resumes); `VerificationError` on a mismatch.

Nothing here assumes one process: checkpoints, the applied position and the rejects
live in the target, the changelog in the source. Copy workers are processes;
`catch_up` and `final_drain` can be re-run or run from another machine. Operator
documentation: docs/delta-catch-up.md.

Layout: two seams. `stores/` is the only place that knows an engine (`open_store`,
the `Database` interface, one `SqlDialect` per engine); `sources/` is the only place
that knows a table from a file feed (`source_of(m).copy(...)`, `.verify(...)`). Above
them: `migration` (a job opened and checked), `snapshot` and `chunk` (the table copy),
`capture` and `catchup` (changes), `comparer` and `join_compare` (the table
comparison), `drain`; `transform`, `python_transform` and `sql_transform` (a mapping
compiled); `checkpoint`, `diff`, `state`, `progress`, `throttle`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cutover.migrate.capture import (
        CaptureStatus,
        capture_status,
        install_capture,
        remove_capture,
    )
    from cutover.migrate.catchup import CatchUpReport, catch_up
    from cutover.migrate.copy import CopyReport, run_copy
    from cutover.migrate.diff import VerifyReport
    from cutover.migrate.drain import DrainReport, final_drain
    from cutover.migrate.mapping import Mapping, load_mapping
    from cutover.migrate.migration import Endpoint
    from cutover.migrate.progress import Progress
    from cutover.migrate.state import JobStatus, status, write_rejects
    from cutover.migrate.throttle import Throttle
    from cutover.migrate.verification import verify

_HOMES = {
    "CaptureStatus": "capture",
    "capture_status": "capture",
    "install_capture": "capture",
    "remove_capture": "capture",
    "CatchUpReport": "catchup",
    "catch_up": "catchup",
    "CopyReport": "copy",
    "run_copy": "copy",
    "DrainReport": "drain",
    "final_drain": "drain",
    "Mapping": "mapping",
    "load_mapping": "mapping",
    "Endpoint": "migration",
    "Progress": "progress",
    "JobStatus": "state",
    "status": "state",
    "write_rejects": "state",
    "Throttle": "throttle",
    "VerifyReport": "diff",
    "verify": "verification",
}
"""Where each public name lives: imported on first use, so `cutover validate` never pays
for psycopg."""

__all__ = [
    "CaptureStatus",
    "CatchUpReport",
    "CopyReport",
    "DrainReport",
    "Endpoint",
    "JobStatus",
    "Mapping",
    "Progress",
    "Throttle",
    "VerifyReport",
    "capture_status",
    "catch_up",
    "final_drain",
    "install_capture",
    "load_mapping",
    "remove_capture",
    "run_copy",
    "status",
    "verify",
    "write_rejects",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cutover.migrate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"cutover.migrate.{home}"), name)
    globals()[name] = value
    return value
