"""Benchmark suites. Every module here is imported by `bench.registry.discover`."""
