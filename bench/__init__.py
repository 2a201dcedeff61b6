"""Benchmarks and evaluations (run from the repository root; see README.md)."""
