"""Metrics against ground truth (pure functions) and the synthetic-benchmark evaluation."""
