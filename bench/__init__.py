"""Tillbook's benchmarks: each figure is printed next to a baseline measured in the same run.

A figure on its own says little (the machine, the disk and the database all move it); the ratio
to a plain loader or a hand-written query on the same database in the same run says how much
Tillbook's own layers cost. Run `make bench` or `python -m bench --help`.

Adding a benchmark: put a module in `bench/suites/`, decorate a function with
`@benchmark("area.what")` (see `bench.registry`) and return `Row`s. Every module in that folder
is imported, so nothing else needs to change.
"""
