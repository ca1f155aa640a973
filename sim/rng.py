"""Named random streams: the single owner of randomness in a replication.

Each replication of a scenario derives independent numpy Generators from one root seed,
the replication index and a stream name (``"arrivals/<community>/0"``, ...).  A stream
depends on nothing else, so changing a staffing lever never shifts the draws of arrivals
or handling times: comparisons between scenarios use common random numbers.
"""

from __future__ import annotations

import zlib

import numpy as np


class Streams:
    """Factory of independent, reproducible generators for one replication.

    Parameters
    ----------
    seed:
        The scenario's root seed.
    replication:
        Index of the replication (0, 1, ...); each index gets independent streams.
    """

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = int(seed)
        self.replication = int(replication)

    def get(self, name: str) -> np.random.Generator:
        """A fresh generator for ``name``; the same name always gives the same draws."""
        key = (self.replication, zlib.crc32(name.encode("utf-8")))
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))
