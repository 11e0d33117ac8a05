"""Benchmarks of issue 6: `python -m bench` (see bench/__main__.py); BENCHMARKS.md has the results.

One module per scenario (`poll_bench`, `store_bench`, `search_bench`,
`match_bench`, `ack_bench`, `render_bench`), each with a `run(quick)`; the
feed farm (`feedfarm`, made of `farm_rewrite`, `farm_feeds` and
`farm_server`), the naive baseline bot (`naive`) and the realistic items
(`corpus`) they share. `pg_bench` (PostgreSQL at 1,000,000 items, issue 16)
runs on a cluster of its own (`pgserver`) loaded by `pg_load`.
`ack_crowd` runs one load of the ack scenario alone, at any size (`python -m
bench.ack_crowd --help`), with each command's CPU time by what was typed.
"""
