"""Benchmarks: speed and quality figures written as JSON under results/benchmarks/."""
