"""Benchmarks: they print figures and are not part of the test suite."""
