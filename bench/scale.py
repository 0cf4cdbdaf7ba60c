"""Benchmark at the mission's size: the loyalty core's move under live traffic, measured end to end.

    .venv/bin/python bench/scale.py --members 16000000 --json     # the mission: 16 M members
    .venv/bin/python bench/scale.py --members 200000              # a quick look

One run, on this machine, in a scratch PostgreSQL database (`cutover_scale_<pid>` on
CUTOVER_SCALE_PG, default the local server; dropped at the end, on Ctrl-C and on
SIGTERM too), with the seed plan rewards-tiers' staging estate whose loyalty core
(`member-store`) keeps its stores there:

1. `seed_s`: N members and their months of history (`cutover.drill.population`:
   COPY from two processes, keys built afterwards);
2. `baseline_rows_per_s`: a raw COPY of the same member rows (dumped to a file first,
   untimed) into an identical keyed table;
3. the estate (a process) and the traffic simulator (a process) at `--rate`
   transactions per second (default 300) through the rest of the run;
4. `copy_rows_per_s`, `copy_ratio`: `run_copy` of the members at full speed (throttle
   off, as bench/migrate.py measures it), live writes flowing (the path it chose in `path`);
5. `catchup_converged`, `catchup_lag_s`: `catch_up` with the traffic still flowing;
6. the final drain with the estate's own freeze (`buffer-writes`), switch and unfreeze:
   `verify_rows_per_s` (its pre-pass: every row compared, writes flowing),
   `write_pause_s` (of which `estate_replay_s`: the estate's unfreeze replaying what it
   buffered), `verified` (the drain's verification: every row, and every member's legacy
   centipoints equal to the new points * 100 + remainder), `conserved` (verified, and the
   seeded members' total centipoints equal on both sides after the switch:
   `legacy_cents`, `new_cents`);
7. `reconcile_s`: reconciliation of the simulator's ledger with the estate and the
   stores (streamed, keyed by member);
8. `peak_rss_mb`: the largest peak resident memory of the three processes
   (`rss_cutover_mb`, `rss_estate_mb`, `rss_simulator_mb`).

Each figure is printed with its goal and ratio; `--json` adds one JSON object as the
last line. Bad input (`--members 0`, a rate of 0 or less, a size the machine cannot
hold, a server that cannot be reached) is one line and exit 2, with nothing created.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "plans" / "rewards-tiers.yaml"
ENV = "staging"
GOALS: dict[str, tuple[float, str]] = {
    "copy_ratio": (0.85, "min"),
    "catchup_lag_s": (2.0, "max"),
    "verify_rows_per_s": (500_000, "min"),
    "write_pause_s": (1.0, "max"),
    "reconcile_s": (120.0, "max"),
    "peak_rss_mb": (2048.0, "max"),
    "tx_per_s": (300.0, "min"),
}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress(what: str) -> Any:
    last = [0.0, -1]

    def report(done: int, total: int, elapsed: float) -> None:
        if time.monotonic() - last[0] < 5 or last[1] == done:
            return
        last[1] = done
        last[0] = time.monotonic()
        rate = done / elapsed if elapsed else 0.0
        say(f"  {what}: {done:,} / {total:,} ({rate:,.0f} per second, {elapsed:,.0f} s)")

    return report


def baseline(dsn: str, members: int, work: Path) -> float:
    """Raw COPY of the legacy member rows into an identical keyed table, rows per second."""
    import psycopg

    from cutover.drill.population import MEMBERS_DDL

    dump = work / "members.copy"
    with psycopg.connect(dsn, autocommit=True) as conn:
        with dump.open("wb") as out, conn.cursor().copy("COPY members TO STDOUT") as copy:
            for data in copy:
                out.write(data)
        conn.execute(
            f"CREATE TABLE members_baseline ({MEMBERS_DDL.replace('NOT NULL', 'PRIMARY KEY', 1)})"
        )
        began = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor().copy("COPY members_baseline FROM STDIN") as copy,
            dump.open("rb") as data,
        ):
            while block := data.read(1 << 20):
                copy.write(block)
        elapsed = time.perf_counter() - began
        conn.execute("DROP TABLE members_baseline")
    dump.unlink()
    return members / elapsed


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from cutover import migrate
    from cutover.control.client import ClientConfig, ControlClient
    from cutover.drill.population import seed_population
    from cutover.drill.scratch import ScratchDatabase, server_data_dir
    from cutover.drill.size import check_fits, estimate, peak_rss_mb, sized_plan
    from cutover.drill.traffic import TrafficProcess
    from cutover.plan import load_plan
    from cutover.plan.models import Store
    from cutover.sim.reconcile import reconcile
    from cutover.sim.records import find_core
    from cutover.sim.server import running_estate

    out: dict[str, Any] = {"members": args.members, "rate": args.rate}
    scratch = ScratchDatabase(args.server, name=args.database)
    need = estimate(args.members)
    check_fits(need, data_dir=server_data_dir(args.server))
    say(f"{need.describe()}: fits")
    with scratch, tempfile.TemporaryDirectory(prefix="cutover-scale-") as tmp:
        work = Path(tmp)
        core = sized_plan(PLAN, ENV, scratch, work)
        say(f"scratch database {scratch.name}; seeding {args.members:,} members")
        seeded = seed_population(
            core.legacy_dsn,
            args.members,
            progress=_progress("seed"),
            target_dsn=core.tiers_dsn,
        )
        out["seed_s"] = seeded.seconds
        out["seed_copy_s"] = seeded.copy_seconds
        out["history_rows"] = seeded.history_rows
        say(f"  seeded in {seeded.seconds:,.1f} s ({seeded.history_rows:,} history rows)")
        out["baseline_rows_per_s"] = baseline(core.legacy_dsn, args.members, work)
        say(f"  baseline {out['baseline_rows_per_s']:,.0f} rows/s")
        plan = load_plan(core.plan)
        found = find_core(plan.plan, plan.plan.environments[ENV])
        assert found is not None
        system, step = found[0].id, found[1]
        mapping = plan.mapping(step)
        source = Store(engine="postgresql", dsn=core.legacy_dsn, table="members")
        target = Store(engine="postgresql", dsn=core.tiers_dsn, table="members")
        token = os.urandom(18).hex()
        with running_estate(core.plan, ENV, workdir=work, token=token, process=True) as estate:
            traffic = TrafficProcess(
                url=estate.url,
                token=token,
                rate=args.rate,
                customers=args.customers,
                seed=7,
                ledger=work / "ledger.jsonl",
                first_member=args.members + 1,
            )
            traffic.start()
            time.sleep(3.0)  # customers sign up and buy before the copy starts
            say("copy, live writes flowing")
            copied = migrate.run_copy(
                source,
                target,
                mapping,
                throttle=migrate.Throttle.off(),
                progress=_every(5, "copy"),
            )
            out["path"] = copied.path
            out["copy_s"] = copied.seconds
            out["copy_rows_per_s"] = args.members / copied.seconds
            out["copy_ratio"] = out["copy_rows_per_s"] / out["baseline_rows_per_s"]
            say(f"  copied in {copied.seconds:,.1f} s ({copied.path})")
            caught = migrate.catch_up(source, target, mapping)
            out["catchup_converged"] = bool(caught.converged)
            out["catchup_lag_s"] = caught.lag_s
            out["catchup_entries"] = caught.entries
            say(f"  catch-up: {caught.entries:,} changes, lag {caught.lag_s:.2f} s")
            replay: list[float] = []
            config = ClientConfig(timeout=600.0)  # the unfreeze answers once the buffer is replayed
            with ControlClient(
                estate.system_url(system), system=system, token=token, config=config
            ) as client:
                drained = migrate.final_drain(
                    source,
                    target,
                    mapping,
                    freeze=lambda: client.freeze("buffer-writes"),
                    switch=lambda: client.switch(plan.plan.program.target),
                    unfreeze=lambda: replay.append(_timed(client.unfreeze)),
                )
            checked = drained.verification
            out["verify_s"] = drained.prepass_s
            out["verify_rows_per_s"] = args.members / drained.prepass_s if drained.prepass_s else 0
            out["write_pause_s"] = drained.pause_s
            out["drain_rechecked_keys"] = drained.rechecked_keys
            # of the pause, the estate's unfreeze: replaying the writes it buffered, while
            # customers' new writes join the buffer, before it answers
            out["estate_replay_s"] = replay[0] if replay else 0.0
            out["pause_before_replay_s"] = drained.pause_s - out["estate_replay_s"]
            out["verified"] = bool(checked is not None and checked.ok)
            say(f"  drained: pause {drained.pause_s:.3f} s, verified {out['verified']}")
            time.sleep(2.0)  # sales go on, now on the new program
            sim = traffic.stop()
            _settle(estate.system_url(system), system, token)
            out["rss_estate_mb"] = peak_rss_mb(estate.process.pid if estate.process else None)
            out["tx_per_s"] = sim.get("rate", 0.0)
            out["transactions"] = sim.get("sent", 0)
            out["rss_simulator_mb"] = sim.get("peak_rss_mb", 0.0)
            out.update(_conservation(core.legacy_dsn, core.tiers_dsn, args.members))
            out["conserved"] = out["verified"] and out["legacy_cents"] == out["new_cents"]
            state_dir = estate.state_dir
        say("reconciling")
        began = time.monotonic()
        rec = reconcile(
            plan.plan, ENV, ledger=work / "ledger.jsonl", workdir=work, state_dir=state_dir
        )
        out["reconcile_s"] = time.monotonic() - began
        out["reconciled"] = rec.ok
        out["lost"], out["duplicated"] = len(rec.lost), len(rec.duplicated)
        out["refused"] = rec.refused
        out["members_reconciled"] = rec.members_replayed
        out["rss_cutover_mb"] = peak_rss_mb()
    out["peak_rss_mb"] = max(out["rss_cutover_mb"], out["rss_estate_mb"], out["rss_simulator_mb"])
    return out


def _every(seconds: float, what: str) -> Any:
    last = [0.0]

    def report(p: Any) -> None:
        if time.monotonic() - last[0] >= seconds:
            last[0] = time.monotonic()
            say(f"  {what}: {p.rows_done:,} rows, {p.rows_per_s:,.0f}/s, lag {p.lag_entries:,}")

    return report


def _conservation(legacy: str, tiers: str, members: int) -> dict[str, Any]:
    """The seeded members' centipoints on both sides, after the switch (the live customers,
    ids after theirs, go on changing on the new side): equal to the centipoint, or not."""
    import psycopg

    with psycopg.connect(legacy) as old, psycopg.connect(tiers) as new:
        before = old.execute(
            "SELECT coalesce(sum(points_cents), 0) FROM members WHERE member_id <= %s", [members]
        ).fetchone()
        after = new.execute(
            "SELECT coalesce(sum(points * 100 + remainder_cents), 0) FROM members "
            "WHERE member_id <= %s",
            [members],
        ).fetchone()
    return {
        "legacy_cents": int(before[0]) if before else 0,
        "new_cents": int(after[0]) if after else 0,
    }


def _timed(call: Any) -> float:
    began = time.monotonic()
    call()
    return time.monotonic() - began


def _settle(url: str, system: str, token: str, timeout: float = 60.0) -> None:
    """Wait until the core holds no buffered write and has finished replaying them."""
    from cutover.control.client import ControlClient

    deadline = time.monotonic() + timeout
    with ControlClient(url, system=system, token=token) as client:
        while time.monotonic() < deadline:
            state = client.state()
            if not state.buffered and not getattr(state, "draining", False):
                return
            time.sleep(0.5)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 10 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def report(out: dict[str, Any]) -> str:
    lines = [
        f"cutover at size · {platform.node()} · {os.cpu_count()} cores · "
        f"{out['members']:,} members · {out['rate']:g} tx/s"
    ]
    for key, value in out.items():
        goal = GOALS.get(key)
        mark = ""
        if goal is not None and isinstance(value, int | float):
            bound, kind = goal
            ok = value >= bound if kind == "min" else value <= bound
            ratio = value / bound if bound else 0.0
            sign = "≥" if kind == "min" else "≤"
            mark = f"   goal {sign} {_fmt(bound)}: {ratio:.2f} of it, {'ok' if ok else 'MISSED'}"
        elif key in ("catchup_converged", "conserved", "reconciled"):
            mark = "   goal: yes, " + ("ok" if value else "MISSED")
        lines.append(f"  {key:24} {_fmt(value):>16}{mark}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", type=int, default=16_000_000)
    parser.add_argument("--rate", type=float, default=300.0, help="live transactions per second")
    parser.add_argument("--customers", type=int, default=20_000, help="simulated customers")
    parser.add_argument(
        "--server",
        default=os.environ.get("CUTOVER_SCALE_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="the PostgreSQL server (a DSN to any database on it)",
    )
    parser.add_argument("--database", help="use this database instead of a scratch one")
    parser.add_argument("--json", action="store_true", help="one JSON object as the last line")
    args = parser.parse_args(argv)

    from cutover import logs
    from cutover.drill.size import check_size
    from cutover.errors import UsageError

    logs.configure(level="warning")
    try:
        check_size(args.members, args.rate)
        out = measure(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the scratch database was dropped", file=sys.stderr)
        return 130
    print(report(out))
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
