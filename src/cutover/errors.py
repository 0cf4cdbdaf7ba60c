"""The one error tree of cutover; the CLI maps each branch to one line and an exit code.

```
CutoverError                      anything cutover raises on purpose
├── UsageError                    bad input from the user (exit 2, nothing executed)
│   ├── PlanError                 a plan or mapping file that cannot be used
│   │     .problems: [Problem]    every problem found, each with file and line
│   └── StoreError                a data store cannot be used as configured: unreachable,
│         .store                  refused credentials, missing table, schema drift
├── RemoteError                   a system did not do what we asked
│   │ .system, .call, .status     which system, which call, what it answered
│   ├── RemoteUnavailable         unreachable, timed out, or 429/502/503/504 after every retry
│   └── RemoteRejected            a 4xx answer (never retried): the request was wrong as sent
│         .reason                 the system's own reason, when it gave one
├── StepError                     a step of the cutover failed
│     .system, .step, .retryable  retryable: only a data move that stopped part-way (it
│                                 resumes); the HTTP client already retried the rest
├── GateTimeout                   nobody answered a gate in time (exit 4): says who is due
│     .gate                       and the command that comes back to it
├── RollbackError                 the way back failed or is refused
│     .system, .step
├── MigrationError                a data move stopped part-way (a store failed or went away);
│     .store                      running it again resumes from the last checkpoint
└── VerificationError             migrated data does not match its source (counts,
      .report                     checksums or conservation): a hard failure, never a warning
```

Foreign exceptions (httpx, psycopg, yaml, pydantic) are translated into this tree at
the boundary that meets them; none reaches a user as a traceback unless `--debug`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a file: where it is and what it is, in plain words."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class CutoverError(Exception):
    """Base of every error cutover raises on purpose."""

    exit_code = 1


class UsageError(CutoverError):
    """The user asked for something that cannot be done as asked; nothing was executed."""

    exit_code = 2


class PlanError(UsageError):
    """A plan (or mapping) file is malformed or fails lint; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str | Path, line: int, message: str) -> PlanError:
        return cls([Problem(str(file), line, message)])


class StoreError(UsageError):
    """A data store cannot be used as configured; names the store, never its password."""

    def __init__(self, message: str, *, store: str) -> None:
        self.store = store
        super().__init__(f"{store}: {message}")


class RemoteError(CutoverError):
    """A system answered badly or not at all."""

    def __init__(self, message: str, *, system: str, call: str, status: int | None = None) -> None:
        self.system = system
        self.call = call
        self.status = status
        where = f"{system}: {call}" + (f" -> {status}" if status is not None else "")
        super().__init__(f"{where}: {message}")


class RemoteUnavailable(RemoteError):
    """The system could not be reached, or failed (5xx, 429) through every retry allowed."""


class RemoteRejected(RemoteError):
    """The system refused the request as sent (4xx): retrying it would not help."""

    def __init__(
        self,
        message: str,
        *,
        system: str,
        call: str,
        status: int | None = None,
        reason: str | None = None,
    ) -> None:
        self.reason = reason
        super().__init__(message, system=system, call=call, status=status)


class StepError(CutoverError):
    """A step of a cutover failed; says which system and which step."""

    def __init__(self, message: str, *, system: str, step: str, retryable: bool = False) -> None:
        self.system = system
        self.step = step
        self.retryable = retryable
        """True when trying the step again can help and no layer below has retried it."""
        super().__init__(f"{system} · {step}: {message}")


class GateTimeout(CutoverError):
    """A gate waited its whole time and was not answered; the run stops there, resumable."""

    exit_code = 4

    def __init__(self, message: str, *, gate: str) -> None:
        self.gate = gate
        super().__init__(message)


class RollbackError(CutoverError):
    """A rollback failed or was refused (for example past the point of no return)."""

    def __init__(self, message: str, *, system: str | None = None, step: str | None = None) -> None:
        self.system = system
        self.step = step
        prefix = " · ".join(p for p in (system, step) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class MigrationError(CutoverError):
    """A data move stopped part-way; its checkpoints make a re-run resume, not restart."""

    def __init__(self, message: str, *, store: str) -> None:
        self.store = store
        super().__init__(f"{store}: {message}")


class VerificationError(CutoverError):
    """Migrated data does not match its source; `.report` holds the diff (key ranges, members)."""

    def __init__(self, message: str, *, report: object) -> None:
        self.report = report
        super().__init__(message)
