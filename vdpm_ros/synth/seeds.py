"""Which generated scenes are for training and which for evaluation: disjoint seed ranges, in one place.

Training draws scenes from seeds >= :data:`TRAIN_SEED_OFFSET`; evaluation uses seeds below it (the
documented held-out set is :data:`HELD_OUT_SEEDS`, 1000-1999), so the two never overlap. Both the trainer
and the evaluation import these from here.
"""

from __future__ import annotations

TRAIN_SEED_OFFSET = 1_000_000
#: The documented held-out evaluation set.
HELD_OUT_SEEDS = range(1000, 2000)


def parse_seeds(text: str) -> list[int]:
    """``"1000-1019"`` or ``"1000,1005,1010"`` -> held-out seeds.

    Raises:
        ValueError: not a list of ranges, or a training (>= TRAIN_SEED_OFFSET) or negative seed.
    """
    seeds: list[int] = []
    for part in str(text).split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi) if dash else int(lo)
        except ValueError:
            raise ValueError(f"seeds {text!r}: expected a range like 1000-1019 or a list like 1000,1005,1010") from None
        if last < first:
            raise ValueError(f"seeds {text!r}: the range {first}-{last} is empty (write the smaller seed first)")
        seeds.extend(range(first, last + 1))
    bad = [s for s in seeds if s >= TRAIN_SEED_OFFSET or s < 0]
    if bad:
        raise ValueError(f"seeds {bad[:3]} are training seeds (>= {TRAIN_SEED_OFFSET}) or negative; evaluate on 1000-1999")
    return seeds
