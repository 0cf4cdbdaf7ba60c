"""Running a cutover without Prefect: what the flows call, and what tests reach directly.

| module | what |
| --- | --- |
| `request` | `RunRequest`: the one typed, guarded request a run travels with |
| `context` | `RunContext`: the plan (loaded once per process), journal, clock, stores |
| `steps` | the step kinds, each with `do` and `undo` side by side; `execute` |
| `manual` | the manual step: a department confirms its checklist, signed like a gate |
| `journaled` | the journaled action: done once, skipped on resume, outcome on record |
| `data` | the data-plane call behind each step |
| `rollback` | undo walked backwards from the journal; the point of no return |
| `phases` | gate timing (human time), waiting for a phase, the decision loop after a failure |
| `signoff` | who may sign a gate (lead or deputy, with a secret), holds, the lockout |
| `watcher` | notices as they fall due, budget alarms, boards, shown through a `RunView` |
| `report`, `board` | the drill report; the status board's rows |
| `results` | typed results: step outcome, run summary, rollback summary |

Never imports Prefect, the flows, the simulator or the drills (tests/test_architecture.py).
"""

from __future__ import annotations

from cutover.engine import manual as manual  # registers the manual step kind in steps.KINDS
