"""A loyalty program at the mission's size, seeded into PostgreSQL by COPY, in parallel.

Case A's figures (docs/domain.md): 16 million members, over 16,000 company-owned
stores plus partner storefronts, months of history. `seed_population` writes the
legacy core's `members` and `transactions` (the shapes of `cutover.sim.stores`, and
a `store_id` on each history row: 1..16,000 company stores, 16,001.. partner ones,
empty for the app, the web and customer care) straight into the store with `COPY`,
one worker process per half of the members (each with its own two connections),
then builds the keys once, as `pg_restore` does. Every member's history opens with
their `account_created` and prices each row under the legacy rules, so the balance
a member holds is exactly the sum of their rows, to the centipoint (reconciliation
checks it); 14 of the 15 types appear (a merge needs two members and is left to the
live traffic). The same arguments always give the same rows.

`cutover.drill.size` sizes a run before anything is written.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cutover import program as rules
from cutover.children import die_with_parent, pool_initargs

COMPANY_STORES = 16_000
PARTNER_STORES = 2_000
"""Partner (licensed) storefronts, with ids after the company stores'."""
MONTHS = 6
HISTORY_PER_MEMBER = 0.5
"""Transactions per member on top of their `account_created`, on average."""
HISTORY_END = datetime(2026, 11, 1, tzinfo=UTC)
SEED_WORKERS = 2
MEMBERS_DDL = (
    "member_id bigint NOT NULL, email text NOT NULL, status text NOT NULL, "
    "points_cents bigint NOT NULL, lifetime_cents bigint NOT NULL, updated_at text NOT NULL"
)
TXN_DDL = (
    'txn_id text COLLATE "C" NOT NULL, member_id bigint NOT NULL, kind text NOT NULL, '
    "amount_cents bigint NOT NULL, points_delta_cents bigint NOT NULL, program text NOT NULL, "
    'at text COLLATE "C" NOT NULL, store_id integer'
)
"""Ids and ISO 8601 times sort the same bytewise: the "C" collation builds their keys several
times faster than a language's rules would."""
# ---------------------------------------------------------------- the rows

_KINDS: tuple[tuple[str, int], ...] = (
    ("purchase", 42),
    ("card_reloaded", 9),
    ("partner_purchase", 8),
    ("redemption", 6),
    ("purchase_with_redemption", 5),
    ("profile_updated", 4),
    ("return", 3),
    ("card_registered", 2),
    ("transaction_void", 2),
    ("points_adjustment", 2),
    ("referral_bonus", 2),
    ("points_expiry", 1),
    ("account_closed", 1),
)
_WHEEL = tuple(kind for kind, weight in _KINDS for _ in range(weight))
_AMOUNTS = (295, 450, 525, 680, 915, 1250, 1875, 2400, 3990, 6500)
_ITEMS = (350, 475, 595, 850, 1250)
_POS = frozenset({"purchase", "purchase_with_redemption", "return", "transaction_void"})
_LEGACY = rules.LEGACY


_HMS = tuple(
    f"T{h:02d}:{m:02d}:{s:02d}.000000Z" for h in range(24) for m in range(60) for s in range(60)
)


def _history_span(months: int) -> tuple[list[str], int]:
    """The history's days (`2026-05-04`), and its length in seconds."""
    days = round(months * 30.4375)
    start = HISTORY_END - timedelta(days=days)
    return [
        (start + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(days + 1)
    ], days * 86_400


def member_rows(
    first: int, last: int, *, seed: int, history: float, months: int
) -> tuple[str, str, int]:
    """COPY text of members `first..last` and of their history; and how many history rows."""
    rng = random.Random(f"{seed}:{first}")
    days, span = _history_span(months)
    members: list[str] = []
    txns: list[str] = []
    extra_p = history / 2  # 0, 1 or 2 more rows: mean `history`
    for member_id in range(first, last + 1):
        offset = rng.randrange(span // 2)
        at = days[offset // 86_400] + _HMS[offset % 86_400]
        txns.append(f"h{member_id}-0\t{member_id}\taccount_created\t0\t0\t{_LEGACY}\t{at}\t\\N\n")
        balance = lifetime = 0
        status = "active"
        last_purchase = None
        count = (rng.random() < extra_p) + (rng.random() < extra_p)
        step = (span - offset) // (count + 1)
        for n in range(1, count + 1):
            kind = _WHEEL[rng.randrange(len(_WHEEL))]
            amount, delta, earned = 0, 0, 0
            if kind in ("purchase", "partner_purchase"):
                amount = _AMOUNTS[rng.randrange(len(_AMOUNTS))]
                delta = earned = rules.earn_cents(_LEGACY, amount)
            elif kind in ("redemption", "purchase_with_redemption"):
                item = _ITEMS[rng.randrange(len(_ITEMS))]
                if not rules.can_redeem(_LEGACY, balance, item):
                    kind, amount = "purchase", _AMOUNTS[rng.randrange(len(_AMOUNTS))]
                    delta = earned = rules.earn_cents(_LEGACY, amount)
                elif kind == "redemption":
                    delta = -rules.redeem_cost_cents(_LEGACY, item)
                else:
                    amount = item + _AMOUNTS[rng.randrange(len(_AMOUNTS))]
                    earned = rules.earn_cents(_LEGACY, amount - item)
                    delta = earned - rules.redeem_cost_cents(_LEGACY, item)
            elif kind in ("return", "transaction_void"):
                if last_purchase is None:
                    kind = "card_registered"
                else:
                    amount = last_purchase[0] if kind == "return" else 0
                    delta = -last_purchase[1]
                    last_purchase = None
            elif kind == "card_reloaded":
                amount = (1000, 2000, 2500, 5000)[rng.randrange(4)]
            elif kind == "points_adjustment":
                delta = rng.choice((-100, 250, 500, 1000)) if balance >= 100 else 500
                earned = max(delta, 0)
            elif kind == "referral_bonus":
                delta = earned = 5_000
            elif kind == "points_expiry":
                delta = -min(balance, 1_000)
                if delta == 0:
                    kind = "profile_updated"
            elif kind == "account_closed" and n != count:
                kind = "profile_updated"
            if kind == "account_closed":
                status = "closed"
            if kind in ("purchase", "partner_purchase"):
                last_purchase = (amount, delta)
            balance += delta
            lifetime += earned
            second = offset + n * step
            store = _store_of(kind, rng)
            txns.append(
                f"h{member_id}-{n}\t{member_id}\t{kind}\t{amount}\t{delta}\t{_LEGACY}\t"
                f"{days[second // 86_400]}{_HMS[second % 86_400]}\t{store}\n"
            )
        members.append(
            f"{member_id}\tMember{member_id}@Example.com\t{status}\t{balance}\t{lifetime}\t{at}\n"
        )
    return "".join(members), "".join(txns), len(txns)


def _store_of(kind: str, rng: random.Random) -> str:
    if kind == "partner_purchase":
        return str(COMPANY_STORES + 1 + rng.randrange(PARTNER_STORES))
    if kind in _POS:
        return str(1 + rng.randrange(COMPANY_STORES))
    return "\\N"


# ------------------------------------------------------------------ seeding


@dataclass(frozen=True)
class Seeded:
    members: int
    history_rows: int
    seconds: float
    copy_seconds: float
    """Of `seconds`, the COPY of the rows (the rest: keys and statistics)."""


def seed_population(
    dsn: str,
    members: int,
    *,
    history: float = HISTORY_PER_MEMBER,
    months: int = MONTHS,
    seed: int = 7,
    workers: int = SEED_WORKERS,
    block: int = 20_000,
    progress: Callable[[int, int, float], None] | None = None,
    target_dsn: str | None = None,
) -> Seeded:
    """Create and fill `members` and `transactions` at `dsn` (its search path's schema).

    With `target_dsn` (the new store), its `transactions` is created in the same shape,
    `store_id` included, so a carry-back copies rows between the two as they are."""
    import psycopg

    began = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE members ({MEMBERS_DDL})")
        conn.execute(f"CREATE TABLE transactions ({TXN_DDL})")
    if target_dsn is not None:
        with psycopg.connect(target_dsn, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE transactions ({TXN_DDL}, PRIMARY KEY (txn_id))")
            conn.execute("CREATE INDEX transactions_at ON transactions (at)")
            conn.execute("CREATE INDEX transactions_member ON transactions (member_id)")
    ctx = multiprocessing.get_context("spawn")
    done = ctx.Value("q", 0)
    history_rows = ctx.Value("q", 0)
    ranges = _ranges(members, workers)
    procs = [
        ctx.Process(
            target=_seed_worker,
            args=(dsn, lo, hi, seed, history, months, block, done, history_rows, pool_initargs()),
            daemon=True,
        )
        for lo, hi in ranges
    ]
    for proc in procs:
        proc.start()
    try:
        _wait(procs, done, members, began, progress)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"a seeding worker failed (exit {failed[0]})")
    copied = time.monotonic() - began
    _build_keys(dsn)
    return Seeded(members, int(history_rows.value), time.monotonic() - began, copied)


def _ranges(members: int, workers: int) -> list[tuple[int, int]]:
    workers = max(1, min(workers, members // 10_000 or 1))
    size = -(-members // workers)
    return [(lo, min(lo + size - 1, members)) for lo in range(1, members + 1, size)]


def _wait(
    procs: list[Any],
    done: Any,
    total: int,
    began: float,
    progress: Callable[[int, int, float], None] | None,
) -> None:
    while any(p.is_alive() for p in procs):
        for p in procs:
            p.join(timeout=1.0)
            if p.exitcode not in (None, 0):
                return
        if progress is not None:
            progress(int(done.value), total, time.monotonic() - began)
    if progress is not None:
        progress(int(done.value), total, time.monotonic() - began)


def _seed_worker(
    dsn: str,
    lo: int,
    hi: int,
    seed: int,
    history: float,
    months: int,
    block: int,
    done: Any,
    history_rows: Any,
    parent: tuple[int, int],
) -> None:
    """One process: COPY members `lo..hi` and their history, on two connections at once."""
    import psycopg

    die_with_parent(*parent)
    with (
        psycopg.connect(dsn) as mconn,
        psycopg.connect(dsn) as tconn,
    ):
        for conn in (mconn, tconn):
            conn.execute("SET synchronous_commit = off")
        with (
            mconn.cursor().copy("COPY members FROM STDIN") as mcopy,
            tconn.cursor().copy("COPY transactions FROM STDIN") as tcopy,
        ):
            for first in range(lo, hi + 1, block):
                last = min(first + block - 1, hi)
                members, txns, rows = member_rows(
                    first, last, seed=seed, history=history, months=months
                )
                mcopy.write(members)
                tcopy.write(txns)
                with done.get_lock():
                    done.value += last - first + 1
                with history_rows.get_lock():
                    history_rows.value += rows
        mconn.commit()
        tconn.commit()


def _build_keys(dsn: str) -> None:
    """The keys and indexes the estate and the data plane need, built once, two at a time."""
    statements = [
        "ALTER TABLE members ADD PRIMARY KEY (member_id)",
        "ALTER TABLE transactions ADD PRIMARY KEY (txn_id)",
        "CREATE INDEX transactions_at ON transactions (at)",
        "CREATE INDEX transactions_member ON transactions (member_id)",
    ]
    errors: list[BaseException] = []

    def run(batch: list[str]) -> None:
        import psycopg

        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("SET maintenance_work_mem = '512MB'")
                for sql in batch:
                    conn.execute(sql)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(statements[0::2],)),
        threading.Thread(target=run, args=(statements[1::2],)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE members")
        conn.execute("VACUUM ANALYZE transactions")
