"""One rule for the random generators of the synthetic data (everything is deterministic from a seed)."""
from __future__ import annotations

import numpy as np


def as_rng(rng, none_seed: int | None = None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator or an int seed.

    ``None`` means ``none_seed`` where the caller documents a default seed, and
    is an error otherwise; anything else is a ``ValueError`` naming the type.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None and none_seed is not None:
        return np.random.default_rng(none_seed)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError("pass rng as a numpy.random.Generator or an int seed "
                     f"(the data is deterministic from a seed), got {type(rng).__name__}")
