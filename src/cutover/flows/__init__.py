"""Prefect flows for cutover: thin compositions of library calls (see DESIGN.md).

One flow per module; each decides order, concurrency, gates and what the UI shows,
and calls `cutover.*` for the work.
"""
