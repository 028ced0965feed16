"""Independent, named random streams, so that any month can be generated on its own.

Each table family and month draws from its own generator, keyed by the seed, a stream
name and indices (e.g. the month number). Generating month 7 therefore never depends
on having generated months 0-6, which is what makes chunking invisible in the output.
"""

from __future__ import annotations

import zlib

import numpy as np
from numpy.typing import NDArray


def stream(seed: int, name: str, *index: int) -> np.random.Generator:
    """The generator for ``name`` at ``index`` (non-negative ints) under ``seed``."""
    # crc32, not hash(): Python's str hash is salted per process and would break
    # reproducibility across runs.
    key = (zlib.crc32(name.encode()), *index)
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))


def pick(rng: np.random.Generator, weights: NDArray[np.floating], size: int) -> NDArray[np.intp]:
    """``size`` indices drawn with probability proportional to ``weights`` (vectorized)."""
    cdf = np.cumsum(weights, dtype=np.float64)
    targets: NDArray[np.float64] = rng.random(size) * cdf[-1]
    return np.searchsorted(cdf, targets, side="right").clip(0, len(cdf) - 1)
