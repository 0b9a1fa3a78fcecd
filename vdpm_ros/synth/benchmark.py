"""Throughput measurement of the synthetic-data generator."""

from __future__ import annotations

import time

from .config import SceneConfig
from .sequence import generate_sequence


def measure_generation_speed(config: SceneConfig = SceneConfig(), n_sequences: int = 10, first_seed: int = 0) -> float:
    """Frames generated per second (wall clock, single process).

    Generates ``n_sequences`` sequences with seeds ``first_seed, first_seed + 1, ...`` after one
    untimed warm-up sequence; a frame counts once although it comes with S point maps.

    Args:
        config: scene configuration (image size and S drive the cost).
        n_sequences: number of timed sequences, >= 1.
        first_seed: seed of the first timed sequence.

    Returns:
        Frames per second, ``n_sequences * config.frames / elapsed_seconds``.
    """
    if isinstance(n_sequences, bool) or not isinstance(n_sequences, int) or n_sequences < 1:
        raise ValueError(f"n_sequences must be a positive int, got {n_sequences!r}")
    generate_sequence(first_seed + n_sequences, config)  # warm-up: imports, allocator, caches
    start = time.perf_counter()
    for k in range(n_sequences):
        generate_sequence(first_seed + k, config)
    elapsed = time.perf_counter() - start
    return n_sequences * config.frames / elapsed
