"""The final drain: the one short write pause of a migration, measured.

1. Catch up until lag is small, with writes still flowing.
2. Verify everything (the pre-pass), still with writes flowing; note the applied
   position A0 it started from. A row that differs and has not changed since A0 is a
   real mismatch: fail now, before anyone's writes are held.
3. Catch up again, then call `freeze()`: from here writes are buffered by the caller.
4. Wait until every writer transaction has finished, apply the last entries, and
   verify what the pre-pass could not: every key changed since the last check, row by
   row, points conserved to the cent. Every other row was proved equal by the pre-pass
   (or a re-check of changed keys made since, with writes still flowing) and has not
   changed since.
5. Call `switch()` if given, then `unfreeze()`: the pause is over. It lasts as long as
   the writes made since the last check take to apply and compare, whatever the table's
   size: nothing in it reads the whole table.

If anything fails after the freeze, `unfreeze()` is still called and `switch()` is
not: the legacy store keeps serving, with nothing lost, and the error says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cutover.errors import VerificationError
from cutover.logs import get_logger
from cutover.migrate.catchup import (
    DEFAULT_BATCH,
    DEFAULT_MAX_LAG_ENTRIES,
    DEFAULT_MAX_LAG_S,
    Applier,
    CatchUpReport,
    require_copied,
    run_catch_up,
)
from cutover.migrate.comparer import DEFAULT_CHUNK_ROWS, Comparer, keyed_rows
from cutover.migrate.diff import ALL_CHECKS, ChunkDiff, VerifyReport, compare_rows
from cutover.migrate.mapping import MappingRef
from cutover.migrate.migration import Endpoint, Migration, PathChoice
from cutover.migrate.progress import Progress, ProgressFn
from cutover.migrate.transform import Reject
from cutover.plan.models import Store

log = get_logger("cutover.migrate.drain")

SETTLE_TIMEOUT_S = 10.0
"""After the freeze, how long open writer transactions may take to finish."""
PRE_FREEZE_ENTRIES = 500
"""Right before the freeze, catch up until at most this many changes wait."""
NARROW_ROUNDS = 4
"""Re-checks of changed keys before the freeze (each shorter than the one before)..."""
NARROW_KEYS = 2_000
"""...until at most this many keys are left for the pause to check."""

Callback = Callable[[], object]


@dataclass(frozen=True)
class DrainReport:
    """What the final drain did, and how long writes were held."""

    job: str
    path: str
    pause_s: float
    """From calling freeze() to unfreeze() returning (or to the end, without unfreeze)."""
    drained_entries: int
    applied_pos: int
    rechecked_keys: int
    catch_up: CatchUpReport
    verification: VerifyReport | None
    switched: bool
    unfrozen: bool
    prepass_s: float = 0.0
    """How long the pre-pass (a full verification, writes flowing) took; 0 without verify."""


def final_drain(
    source: Store | Endpoint,
    target: Store | Endpoint,
    mapping: MappingRef,
    *,
    freeze: Callback | None,
    unfreeze: Callback | None = None,
    switch: Callback | None = None,
    verify: bool = True,
    job: str | None = None,
    path: PathChoice = "auto",
    max_lag_s: float = DEFAULT_MAX_LAG_S,
    max_lag_entries: int = DEFAULT_MAX_LAG_ENTRIES,
    batch: int = DEFAULT_BATCH,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    settle_timeout_s: float = SETTLE_TIMEOUT_S,
    progress: ProgressFn | None = None,
) -> DrainReport:
    """Freeze, drain, verify, (switch), unfreeze; `freeze=None` means writes are already held."""
    with Migration.open(source, target, mapping, job=job, path=path) as m:
        require_copied(m)
        converged, comparer, base, suspects = _before_freeze(
            m, verify, chunk_rows, max_lag_s, max_lag_entries, batch, progress
        )
        began = time.monotonic()
        if freeze is not None:
            freeze()
        log.info("writes_frozen", job=m.job)
        try:
            paused = _paused(m, comparer, base, suspects, settle_timeout_s, batch, switch, progress)
        except BaseException:
            if unfreeze is not None:
                unfreeze()
            log.warning("drain_failed_writes_resumed", job=m.job, unfrozen=unfreeze is not None)
            raise
        if unfreeze is not None:
            unfreeze()
        pause = time.monotonic() - began
        log.info(
            "drained",
            job=m.job,
            pause_s=round(pause, 3),
            entries=paused.drained,
            rechecked=paused.rechecked,
            switched=paused.switched,
        )
        return DrainReport(
            m.job,
            m.path,
            pause,
            paused.drained,
            paused.applied,
            paused.rechecked,
            converged,
            paused.report,
            paused.switched,
            unfreeze is not None,
            comparer.report.seconds if comparer is not None else 0.0,
        )


def _before_freeze(
    m: Migration,
    verify: bool,
    chunk_rows: int,
    max_lag_s: float,
    max_lag_entries: int,
    batch: int,
    progress: ProgressFn | None,
) -> tuple[CatchUpReport, Comparer | None, int, set[Any]]:
    """Steps 1 and 2, writes flowing: catch up, verify (the pre-pass) and narrow the keys
    left to re-check, then a tight catch-up. Returns the first catch-up's report, the
    pre-pass and the position and keys the pause must re-check from."""
    converged = run_catch_up(
        m, max_lag_s=max_lag_s, max_lag_entries=max_lag_entries, batch=batch, progress=progress
    )
    comparer: Comparer | None = None
    base, suspects = 0, set[Any]()
    if verify:
        comparer, base, suspects = _prepass(m, chunk_rows)
        base, suspects = _narrow(m, base, suspects, max_lag_s, max_lag_entries, batch)
    # last, a tight catch-up: what is left for the pause to apply is what arrives meanwhile
    run_catch_up(
        m,
        max_lag_s=max_lag_s,
        max_lag_entries=min(max_lag_entries, PRE_FREEZE_ENTRIES),
        batch=batch,
    )
    return converged, comparer, base, suspects


@dataclass(frozen=True)
class _Paused:
    """What happened while writes were held."""

    drained: int
    applied: int
    rechecked: int
    report: VerifyReport | None
    switched: bool


def _paused(
    m: Migration,
    comparer: Comparer | None,
    base: int,
    suspects: set[Any],
    settle_timeout_s: float,
    batch: int,
    switch: Callback | None,
    progress: ProgressFn | None,
) -> _Paused:
    """Inside the pause: settle, apply the last entries, re-check, switch if given."""
    upto = m.log.settled_position(settle_timeout_s)
    drained, applied = _drain(m, upto, batch, progress)
    report = None
    rechecked = 0
    if comparer is not None:
        report, rechecked = _recheck(m, comparer, base, suspects, upto)
        if not report.ok:
            raise VerificationError(
                report.summary() + ": " + "; ".join(report.problems[:5]), report=report
            )
    if switch is not None:
        switch()
    return _Paused(drained, applied, rechecked, report, switch is not None)


def _prepass(m: Migration, chunk_rows: int) -> tuple[Comparer, int, set[Any]]:
    """Full verification with writes flowing. Returns the applied position it started from
    and the keys that differed; fails at once on a difference no change explains."""
    state = m.checkpoints.load()
    assert state is not None
    a0 = state.applied_pos
    comparer = Comparer(m, list(ALL_CHECKS), chunk_rows)
    began = time.monotonic()
    report = comparer.run()
    report.seconds = time.monotonic() - began
    suspects = comparer.differing | comparer.rejects_missing | comparer.rejects_stale
    if suspects:
        _explained(m, suspects, a0, report)
    return comparer, a0, suspects


def _explained(m: Migration, differing: set[Any], since: int, report: VerifyReport) -> None:
    """Keys that differ must have changed since `since` (lag); any other is a real mismatch."""
    dirty = {m.mapping.target_key(k) for k in m.log.keys_since(since)}
    unexplained = differing - dirty
    if unexplained:
        first = sorted(unexplained, key=str)[:5]
        report.problems = [
            f"{len(unexplained)} rows differ and have not changed since the applied position "
            f"{since}: a real mismatch, not lag (keys {', '.join(map(repr, first))})",
            *[p for p in report.problems if not p.startswith("counts")],
        ]
        raise VerificationError(
            report.summary() + " before the freeze: " + report.problems[0], report=report
        )


def _narrow(
    m: Migration, base: int, suspects: set[Any], max_lag_s: float, max_lag_entries: int, batch: int
) -> tuple[int, set[Any]]:
    """Before freezing, re-check the keys changed since the last check (writes still flowing),
    so the pause only has to check the few changed since: each round is shorter than the last."""
    for _ in range(NARROW_ROUNDS):
        run_catch_up(m, max_lag_s=max_lag_s, max_lag_entries=max_lag_entries, batch=batch)
        state = m.checkpoints.load()
        assert state is not None
        changed = m.log.keys_since(base, state.applied_pos)
        if len(changed) + len(suspects) <= NARROW_KEYS:
            break
        keys = changed | {_source_key(m, k) for k in suspects}
        check = _check_keys(m, keys)
        still = check.differing | check.wrong_rejects
        if still:
            report = VerifyReport(m.job, list(ALL_CHECKS), problems=[])
            _explained(m, still, state.applied_pos, report)
        base, suspects = state.applied_pos, still
    return base, suspects


@dataclass
class _KeyCheck:
    """Keys compared row by row."""

    keys: int
    diffs: list[Any]
    members: list[Any]
    differing: set[Any]
    wrong_rejects: set[Any]


def _check_keys(m: Migration, source_keys: set[Any]) -> _KeyCheck:
    mp = m.mapping
    assert m.source_table is not None
    keys = list(source_keys)
    key_at = mp.source_columns.index(mp.source.key)
    diffs: list[Any] = []
    members: list[Any] = []
    rejected_now: set[Any] = set()
    for start in range(0, len(keys), 5_000):
        part = keys[start : start + 5_000]
        src_rows, tgt_rows = keyed_rows(m, part)
        rows, mems = compare_rows(m, src_rows, tgt_rows)
        diffs += rows
        members += mems
        rejected_now.update(
            mp.target_key(r[key_at]) for r in src_rows if isinstance(m.compiled.row(r), Reject)
        )
    recorded = m.checkpoints.rejected_keys()
    checked = {mp.target_key(k) for k in keys}
    differing = {d.key for d in diffs} | {mem.key for mem in members}
    return _KeyCheck(len(keys), diffs, members, differing, rejected_now ^ (recorded & checked))


def _drain(m: Migration, upto: int, batch: int, progress: ProgressFn | None) -> tuple[int, int]:
    state = m.checkpoints.load()
    assert state is not None
    applied, entries = Applier(m, batch).apply_until(state.applied_pos, upto)
    if progress:
        progress(Progress("drain", m.path, entries, applied_pos=applied, head_pos=upto))
    return entries, applied


def _recheck(
    m: Migration, comparer: Comparer, base: int, suspects: set[Any], upto: int
) -> tuple[VerifyReport, int]:
    """Inside the pause: every key changed since the last check, row by row.

    Nothing here reads the whole table, so the pause grows with the writes made since the
    last check, not with the table: every other row was proved equal by the pre-pass (or a
    narrowing round) and has not changed since. The report's totals are the pre-pass's.
    """
    pre = comparer.report
    report = VerifyReport(
        m.job,
        list(ALL_CHECKS),
        source_rows=pre.source_rows,
        target_rows=pre.target_rows,
        rejected_rows=pre.rejected_rows,
        rejects_recorded=pre.rejects_recorded,
        chunks=pre.chunks,
        members=pre.members,
        legacy_cents=pre.legacy_cents,
        new_cents=pre.new_cents,
        method=pre.method,
    )
    keys = m.log.keys_since(base, upto) | {_source_key(m, k) for k in suspects}
    check = _check_keys(m, keys)
    report.note = (
        f"totals from the pre-pass, taken with writes flowing; the {len(keys):,} keys changed "
        "since the last check were compared row by row in the pause"
    )
    diffs, members = check.diffs, check.members
    if diffs or members:
        report.mismatched.append(
            ChunkDiff(None, None, len(keys), len(keys), diffs[:20], members[:20])
        )
        first = diffs[0] if diffs else None
        report.problems.append(
            f"checksums: {len(diffs)} of the {len(keys)} keys changed since the last check differ"
            + (f" (first: key {first.key!r} {first.kind})" if first else "")
        )
    if members:
        mem = members[0]
        report.problems.append(
            f"conservation: {len(members)} members do not add up; first: member {mem.key!r} legacy "
            f"{mem.legacy_cents}, new {mem.points} points + {mem.remainder_cents} remainder"
        )
    if check.wrong_rejects:
        report.problems.append(
            f"rejects: {len(check.wrong_rejects)} keys disagree with the reject record"
        )
    return report, len(keys)


def _source_key(m: Migration, target_key: Any) -> Any:
    """The source key of a target key (they differ only by a cast)."""
    kind = m.mapping.source.columns[m.mapping.source.key]
    if kind == "integer" and not isinstance(target_key, int):
        return int(target_key)
    if kind == "text" and not isinstance(target_key, str):
        return str(target_key)
    return target_key
