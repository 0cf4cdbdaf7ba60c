"""Reconciliation of the members the traffic never touched: their rows' sum against their balance.

Sixteen million of them at the mission's size, so never all in memory: inside
PostgreSQL when both stores share a database (`in_one_database`, by ranges of
members), otherwise both stores streamed in member order and merged like a join
(`check_members`). A member whose `account_created` row is there opens at zero and
must hold exactly their rows' sum; one held before any row we see (seeded or
migrated in) opens where their rows say, as in the replay.
"""

from __future__ import annotations

from typing import Any

from cutover.sim.report import Report
from cutover.sim.stores import RecordStore


def check_members(
    report: Report, history: RecordStore, current: RecordStore, replayed: set[int]
) -> None:
    """Every member not replayed: the sum of their rows against the balance held, streamed.

    Both streams come in member order and are merged like a join, so memory stays flat
    whatever the number of members. A member whose `account_created` row is there opens
    at zero and must hold exactly their rows' sum; one held before any row we see
    (seeded or migrated in) opens where their rows say, as in the replay.
    """
    if in_one_database(report, history, current, replayed):
        return
    sums = history.history_stream()
    pending = next(sums, None)
    for member_id, balance in current.balance_stream():
        while pending is not None and pending[0] < member_id:
            if pending[0] not in replayed:
                report.members_replayed += 1
                report.balance_mismatches.append(
                    f"member {pending[0]}: not in {current.store_id}, replay gives {pending[1]}"
                )
            pending = next(sums, None)
        if pending is None or pending[0] != member_id:
            continue
        _, total, created = pending
        pending = next(sums, None)
        if member_id in replayed:
            continue
        report.members_replayed += 1
        if not created:
            report.openings_inferred += 1
        elif total != balance:
            report.balance_mismatches.append(
                f"member {member_id}: {current.store_id} holds {balance}, replay gives {total}"
            )
    while pending is not None:
        if pending[0] not in replayed:
            report.members_replayed += 1
            report.balance_mismatches.append(
                f"member {pending[0]}: not in {current.store_id}, replay gives {pending[1]}"
            )
        pending = next(sums, None)


LISTED = 1000
"""At most this many members named per problem when the check runs inside PostgreSQL."""


def in_one_database(
    report: Report, history: RecordStore, current: RecordStore, replayed: set[int]
) -> bool:
    """`check_members` in SQL, when both stores share a PostgreSQL database.

    The join and the sums run inside the server (sixteen million members in seconds,
    not minutes of rows through Python); the members that differ come back, at most
    LISTED of them named. False when the stores are not in one database."""
    here, there = history.where(), current.where()
    if here is None or there is None or here[0] != there[0]:
        return False
    bounds = history.db.one(f'select min(member_id), max(member_id) from "{here[1]}".transactions')
    low, high = (int(bounds[0]), int(bounds[1])) if bounds and bounds[0] is not None else (1, 0)
    bad = 0
    listed: list[Any] = []
    history.db.execute("set work_mem = '64MB'")
    history.db.execute("set jit = off")  # compiling each range's plan costs more than it saves
    for first in range(low, high + 1, RANGE_MEMBERS):
        row = history.db.one(
            _RANGE_SQL.format(
                history=here[1], current=current.balance_sql(there[1]), listed=LISTED
            ),
            (first, last := first + RANGE_MEMBERS - 1, first, last, sorted(replayed)),
        )
        assert row is not None
        report.members_replayed += int(row[0])
        report.openings_inferred += int(row[1])
        bad += int(row[2])
        listed.extend((row[3] or [])[: LISTED - len(listed)])
    history.db.execute("reset work_mem")
    history.db.execute("reset jit")
    for member_id, total, cents, missing in listed:
        if missing:
            report.balance_mismatches.append(
                f"member {member_id}: not in {current.store_id}, replay gives {total}"
            )
        else:
            report.balance_mismatches.append(
                f"member {member_id}: {current.store_id} holds {cents}, replay gives {total}"
            )
    if bad > len(listed):
        report.balance_mismatches.append(f"... and {bad - len(listed):,} more members")
    return True


RANGE_MEMBERS = 500_000
"""Members per statement: each range's sums fit in memory (no spill to disk), and the
history, written in member order, is read nearly in order through its member index."""
_RANGE_SQL = """
    with t as (
        select member_id, sum(points_delta_cents) as total,
               bool_or(kind = 'account_created') as made
        from "{history}".transactions where member_id between ? and ? group by member_id
    ), j as (
        select t.member_id, t.total, t.made, m.cents
        from t left join (
            select * from ({current}) c where member_id between ? and ?
        ) m using (member_id)
        where t.member_id not in (select unnest(?::bigint[]))
    )
    select count(*), count(*) filter (where not made and cents is not null),
           count(*) filter (where cents is null or (made and cents <> total)),
           (array_agg(array[member_id, total, coalesce(cents, 0), (cents is null)::int]
                      order by member_id)
              filter (where cents is null or (made and cents <> total)))[1:{listed}]
    from j
"""
