"""Reconciliation: prove from the ledger, the estate's logs and the stores that nothing was lost.

Checks, each naming the transactions that fail it:

1. every acknowledged transaction (applied, buffered or pending) is in the
   system of record exactly once, in whichever store (legacy before the
   core's switch, reward tiers after) it landed; nothing refused or declined is;
2. no write was refused while its system was in `buffer-writes` (from the
   estate's per-request log); refusals inside an announced read-only/offline
   degradation are counted apart (`declined_degraded`) from any other (`refused`);
3. every member's balance equals the replay of their transactions: each
   transaction's points re-priced under the program stamped when it was accepted
   (which must be the program its front served at that moment), and the sum
   equal to the balance the current store holds, to the centipoint, conversion
   and rounding remainder included (a member the store held before the first
   transaction seen, seeded or migrated in, replays from an inferred opening);
4. nothing is left held: no buffer and no pending write still waits.

Memory is bounded by the traffic, not by the size of the program: the ledger's
members (and anyone with a row in a store only live traffic writes) are replayed
exactly as above, from their own rows; every other member, sixteen million of them
at the mission's size, is checked by streaming, keyed by member: the sum of their
rows against the balance held (`cutover.sim.member_sums`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cutover.errors import UsageError
from cutover.plan.models import Plan, Store
from cutover.sim.kinds import MERGE_LEG_SUFFIX, Original, TransactionRequest, price, rules_program
from cutover.sim.ledger import ACKNOWLEDGED, read_ledger
from cutover.sim.member_sums import check_members
from cutover.sim.records import find_core
from cutover.sim.report import Report
from cutover.sim.state import RequestRecord, SystemStore
from cutover.sim.stores import Member, RecordStore, TxnRow

__all__ = ["Report", "reconcile"]


def reconcile(
    plan: Plan,
    env: str,
    *,
    ledger: str | Path,
    workdir: Path,
    state_dir: Path,
) -> Report:
    """Reconcile a traffic ledger with the estate's logs and stores (see the module docstring)."""
    if env not in plan.environments:
        raise UsageError(f"environment {env!r} is not in the plan")
    if not Path(ledger).is_file():
        raise UsageError(
            f"no ledger at {ledger}: run `cutover simulate --target ... --ledger {ledger}` first"
        )
    missing = [s.id for s in plan.systems if not (state_dir / f"{s.id}.db").is_file()]
    if len(missing) == len(plan.systems):
        raise UsageError(f"no estate state under {state_dir}: is that the estate's --state-dir?")
    report = Report()
    systems = {
        s.id: SystemStore(state_dir / f"{s.id}.db") for s in plan.systems if s.id not in missing
    }
    stores, pending_store = _record_stores(plan, env, workdir, state_dir)
    try:
        report.stores = [f"{s.store_id} ({s.shape})" for s in stores]
        entries = _ledger(read_ledger(ledger), report)
        current = stores[-1] if _switched(plan, env, systems) else stores[0]
        replayed = _replayed_members(entries, stores)
        rows = _rows(stores, replayed)
        _presence(report, entries, rows, systems, pending_store)
        accepted = _refusals(report, plan, systems)
        _replay(report, plan, rows, entries, current)
        check_members(report, stores[0], current, replayed)
        _programs(report, plan, rows, accepted, systems)
        for system_id, state in systems.items():
            count = state.count("buffer")
            if count:
                report.held[f"buffered at {system_id}"] = count
        pending = pending_store.count("pending")
        if pending:
            report.held["pending"] = pending
        for record_store in stores:
            problems = record_store.problems()
            report.store_problems.extend(f"{record_store.store_id}: {p}" for p in problems)
    finally:
        for record_store in stores:
            record_store.close()
        for state in systems.values():
            state.close()
        if pending_store not in systems.values():
            pending_store.close()
    return report


def _record_stores(
    plan: Plan, env: str, workdir: Path, state_dir: Path
) -> tuple[list[RecordStore], SystemStore]:
    environment = plan.environments[env]
    core = find_core(plan, environment)
    if core is None:
        internal = Store(engine="sqlite", path=str(state_dir / "records.db"))
        return [RecordStore("records", internal, "legacy", workdir)], SystemStore(
            state_dir / "records-state.db"
        )
    system, step = core
    source = RecordStore(step.source, environment.stores[step.source], "legacy", workdir)
    target = RecordStore(step.target, environment.stores[step.target], "tiers", workdir)
    return [source, target], SystemStore(state_dir / f"{system.id}.db")


def _switched(plan: Plan, env: str, systems: dict[str, SystemStore]) -> bool:
    core = find_core(plan, plan.environments[env])
    if core is None or core[0].id not in systems:
        return False
    program = systems[core[0].id].control().get("program", plan.program.legacy)
    return bool(program != plan.program.legacy)


def _replayed_members(entries: dict[str, dict[str, Any]], stores: list[RecordStore]) -> set[int]:
    """Members replayed row by row: the ledger's, and any with a row in a store written live only."""
    members: set[int] = set()
    for entry in entries.values():
        members.add(int(entry["member_id"]))
        other = (entry.get("request") or {}).get("other_member_id")
        if other:
            members.add(int(other))
    for store in stores[1:]:  # the new store holds only what was written after a switch
        members |= store.members_with_rows()
    return members


def _rows(stores: list[RecordStore], members: set[int]) -> list[TxnRow]:
    """Every transaction row of `members` in every store, a row copied between stores counted once."""
    seen: set[tuple[str, str]] = set()
    rows: list[TxnRow] = []
    for store in stores:
        for row in store.rows_of(members):
            if (row.txn_id, row.at) not in seen:
                seen.add((row.txn_id, row.at))
                rows.append(row)
    rows.sort(key=lambda r: (r.at, r.txn_id))
    return rows


def _ledger(entries: Iterable[dict[str, Any]], report: Report) -> dict[str, dict[str, Any]]:
    """One entry per txn_id (an acknowledged one wins), and the outcome counts."""
    by_id: dict[str, dict[str, Any]] = {}
    for entry in entries:
        report.ledger_entries += 1
        report.outcomes[entry["outcome"]] += 1
        prior = by_id.get(entry["txn_id"])
        if prior is None or (
            entry["outcome"] in ACKNOWLEDGED and prior["outcome"] not in ACKNOWLEDGED
        ):
            by_id[entry["txn_id"]] = entry
    report.acknowledged = sum(1 for e in by_id.values() if e["outcome"] in ACKNOWLEDGED)
    report.unknown = sum(1 for e in by_id.values() if e["outcome"] == "unknown")
    return by_id


def _presence(
    report: Report,
    entries: dict[str, dict[str, Any]],
    rows: list[TxnRow],
    systems: dict[str, SystemStore],
    pending: SystemStore,
) -> None:
    present = Counter(r.txn_id for r in rows if not r.txn_id.endswith(MERGE_LEG_SUFFIX))
    for txn_id, entry in entries.items():
        count = present.get(txn_id, 0)
        what = f"{txn_id} ({entry['kind']}, member {entry['member_id']}, via {entry['system']}"
        if count > 1:
            report.duplicated.append(f"{what}) applied {count} times")
        elif entry["outcome"] in ACKNOWLEDGED:
            if count == 1:
                report.present_once += 1
            else:
                where = _held_where(txn_id, systems, pending)
                report.lost.append(
                    f"{what}, acknowledged {entry['outcome']}) not in the system of record{where}"
                )
        elif count and entry["outcome"] != "unknown":
            report.unacknowledged_present.append(f"{what}) answered {entry['outcome']} but applied")


def _held_where(txn_id: str, systems: dict[str, SystemStore], pending: SystemStore) -> str:
    for system_id, store in systems.items():
        if store.is_held("buffer", txn_id):
            return f": still buffered at {system_id}"
    if pending.is_held("pending", txn_id):
        return ": still pending (its member was never created)"
    return ""


def _refusals(
    report: Report, plan: Plan, systems: dict[str, SystemStore]
) -> dict[str, tuple[str, RequestRecord]]:
    """Count refusals from the estate's request logs; return each accepted txn's record."""
    accepted: dict[str, tuple[str, RequestRecord]] = {}
    for system_id, store in systems.items():
        for record in store.requests():
            if record.outcome == "refused":
                report.refused += 1
                if record.buffering:
                    report.refused_while_buffering.append(
                        f"{record.txn_id} ({record.kind}) refused by {system_id} while buffering: {record.reason}"
                    )
            elif record.outcome == "declined_degraded":
                report.declined_degraded += 1
                if record.mode == "buffer-writes":
                    report.refused_while_buffering.append(
                        f"{record.txn_id} ({record.kind}) declined by {system_id} in buffer-writes"
                    )
            elif record.outcome == "declined":
                report.declined += 1
            elif record.outcome in ACKNOWLEDGED and record.txn_id:
                accepted.setdefault(record.txn_id, (system_id, record))
    return accepted


def _replay(
    report: Report,
    plan: Plan,
    rows: list[TxnRow],
    entries: dict[str, dict[str, Any]],
    current: RecordStore,
) -> None:
    """Re-price every row in order and compare each member's sum with the current store."""
    originals = {
        r.txn_id: Original(r.txn_id, r.member_id, r.kind, r.amount_cents, r.points_delta_cents)
        for r in rows
    }
    balances = {m.member_id: m for m in current.members_in({r.member_id for r in rows})}
    running = _openings(report, rows, balances)
    touched: set[int] = set()
    leg_expected: dict[str, int] = {}
    for row in rows:
        touched.add(row.member_id)
        if row.txn_id.endswith(MERGE_LEG_SUFFIX):
            expected = leg_expected.pop(row.txn_id, None)
            if expected is not None and expected != row.points_delta_cents:
                report.mispriced.append(
                    f"{row.txn_id}: merged away {row.points_delta_cents}, the account held {-expected}"
                )
            running[row.member_id] += row.points_delta_cents
            continue
        entry = entries.get(row.txn_id)
        if entry is not None:
            request = TransactionRequest.model_validate(entry["request"])
            priced = price(
                request,
                rules_program(row.program, plan.program.legacy),
                balance_cents=running[row.member_id],
                original=originals.get(request.ref_txn_id or ""),
                other_balance_cents=running[request.other_member_id or 0],
            )
            if priced.delta_cents != row.points_delta_cents:
                report.mispriced.append(
                    f"{row.txn_id} ({row.kind} under {row.program}): recorded "
                    f"{row.points_delta_cents}, the rules give {priced.delta_cents}"
                )
            if request.kind == "accounts_merged":
                leg_expected[row.txn_id + MERGE_LEG_SUFFIX] = -priced.moved_cents
        running[row.member_id] += row.points_delta_cents
    _compare_balances(report, current, balances, running, touched)


def _openings(
    report: Report, rows: list[TxnRow], balances: dict[int, Member]
) -> defaultdict[int, int]:
    """Each member's balance before the first row seen: zero, or inferred if held before it.

    A member the system of record held before any transaction we see (seeded, or
    migrated in) gets an inferred opening balance, so their deltas still replay.
    """
    created = {r.member_id for r in rows if r.kind == "account_created"}
    totals: defaultdict[int, int] = defaultdict(int)
    for row in rows:
        totals[row.member_id] += row.points_delta_cents
    running: defaultdict[int, int] = defaultdict(int)
    for member_id in totals.keys() - created:
        held = balances.get(member_id)
        if held is not None:
            running[member_id] = held.balance_cents - totals[member_id]
            report.openings_inferred += 1
    return running


def _compare_balances(
    report: Report,
    current: RecordStore,
    balances: dict[int, Member],
    running: dict[int, int],
    touched: set[int],
) -> None:
    for member_id in sorted(touched):
        held = balances.get(member_id)
        report.members_replayed += 1
        if held is None:
            report.balance_mismatches.append(
                f"member {member_id}: not in {current.store_id}, replay gives {running[member_id]}"
            )
        elif held.balance_cents != running[member_id]:
            report.balance_mismatches.append(
                f"member {member_id}: {current.store_id} holds {held.balance_cents}, "
                f"replay gives {running[member_id]}"
            )


def _programs(
    report: Report,
    plan: Plan,
    rows: list[TxnRow],
    accepted: dict[str, tuple[str, RequestRecord]],
    systems: dict[str, SystemStore],
) -> None:
    """Each row was priced under the program its front served when it accepted it."""
    switches = {
        system_id: [
            (at, detail["program"]) for at, event, detail in store.history() if event == "switch"
        ]
        for system_id, store in systems.items()
    }
    for row in rows:
        found = accepted.get(row.txn_id)
        if found is None:
            continue
        system_id, record = found
        in_force = plan.program.legacy
        for at, program in switches.get(system_id, []):
            if at <= record.at:
                in_force = program
        if row.program != record.program or record.program != in_force:
            report.wrong_program.append(
                f"{row.txn_id}: priced under {row.program}, accepted by {system_id} "
                f"serving {in_force}"
            )
