"""Independent, named random streams so that one seed reproduces every array bit for bit.

Each part of the simulation (movies, schedule, behaviour, neurons, noise, ...) draws from its own
stream, derived from the user's seed and a tuple of labels. Changing one part (for example the
number of neurons) therefore never shifts the random numbers another part sees.
"""

from __future__ import annotations

import zlib

import numpy as np


def _label_key(label: str | int) -> int:
    if isinstance(label, int):
        if label < 0:
            raise ValueError(f"random stream labels must be non-negative integers, got {label}")
        return label
    return zlib.crc32(label.encode("utf-8"))


def stream(seed: int, *labels: str | int) -> np.random.Generator:
    """Return the generator for one named part of the simulation.

    Parameters
    ----------
    seed
        The user's seed (non-negative integer).
    labels
        Names that identify the part, e.g. ``("mouse", "A", "behavior")``. Strings are hashed with
        CRC-32, so the mapping is stable across Python processes and versions.
    """
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    entropy = [seed, *(_label_key(label) for label in labels)]
    return np.random.default_rng(np.random.SeedSequence(entropy))
