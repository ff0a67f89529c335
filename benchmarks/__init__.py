"""Benchmarks: timed runs on large synthetic data (not part of the tests)."""
