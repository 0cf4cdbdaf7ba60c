"""The journal's four tables. Rows are only ever inserted: the history is the truth."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

runs = sa.Table(
    "cutover_runs",
    metadata,
    sa.Column("run_key", sa.String(200), primary_key=True),
    sa.Column("plan", sa.String(300), nullable=False),
    sa.Column("env", sa.String(100), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("plan_anchor", sa.String(40), nullable=False),
    sa.Column("real_anchor", sa.String(40), nullable=False),
    sa.Column("scale", sa.Float, nullable=False),
)

skips = sa.Table(
    "cutover_clock_skips",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_key", sa.String(200), nullable=False, index=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
)

steps = sa.Table(
    "cutover_steps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_key", sa.String(200), nullable=False, index=True),
    sa.Column("system", sa.String(100), nullable=False),
    sa.Column("step", sa.String(100), nullable=False),
    sa.Column("action", sa.String(10), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("idempotency_key", sa.String(400), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default="{}"),
)

decisions = sa.Table(
    "cutover_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_key", sa.String(200), nullable=False, index=True),
    sa.Column("gate", sa.String(200), nullable=False),
    sa.Column("department", sa.String(100), nullable=False),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("who", sa.String(200), nullable=False),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("at", sa.String(40), nullable=False),
)
