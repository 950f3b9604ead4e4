"""Shared fixtures: in-silico sessions (``test`` preset) written as real allensdk-readable NWB files.

All are session-scoped and written once per test run into pytest's temporary directory:

* ``insilico_cache``: offline ``BrainObservatoryCache`` directory with mice A and B (seed 0).
* ``insilico_session``: mouse A's NWB path inside that cache (``<id>.truth.npz`` beside it).
* ``insilico_code_session``: mouse A with ``stimulus_code=True`` (corrected fluorescence of every
  neuron = code of the movie frame on screen, see `brainenc.insilico.stimulus_code`).
* ``make_insilico_session``: factory ``(name, mouse="A", **overrides) -> Path`` writing (once per
  name) a ``test``-preset session with `SessionConfig` overrides, e.g. fault injection
  ``make_insilico_session("no_eye", eye_tracking=False)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

INSILICO_SEED = 0


@pytest.fixture(scope="session")
def insilico_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Offline cache directory (manifest, ophys_experiments.json, NWB files) with mice A and B."""
    from brainenc.insilico import session_config, write_cache

    cache_dir = tmp_path_factory.mktemp("insilico_cache")
    write_cache(cache_dir, [session_config(m, "test", INSILICO_SEED) for m in ("A", "B")])
    return cache_dir


@pytest.fixture(scope="session")
def insilico_session(insilico_cache: Path) -> Path:
    """Mouse A's NWB file (experiment 501729039) in ``insilico_cache``."""
    from brainenc.insilico import session_config

    experiment_id = session_config("A", "test", INSILICO_SEED).experiment_id
    return insilico_cache / "ophys_experiment_data" / f"{experiment_id}.nwb"


@pytest.fixture(scope="session")
def make_insilico_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., Path]:
    """Factory writing (once per name) a ``test``-preset session with the given overrides."""
    from brainenc.insilico import session_config, write_session

    folder = tmp_path_factory.mktemp("insilico_sessions")
    written: dict[str, Path] = {}

    def make(name: str, mouse: str = "A", **overrides: Any) -> Path:
        if name not in written:
            config = session_config(
                mouse, "test", overrides.pop("seed", INSILICO_SEED), **overrides
            )
            written[name] = write_session(folder / f"{name}.nwb", config)
        return written[name]

    return make


@pytest.fixture(scope="session")
def insilico_code_session(make_insilico_session: Callable[..., Path]) -> Path:
    """Mouse A whose corrected fluorescence encodes the movie frame on screen exactly."""
    return make_insilico_session("stimulus_code", stimulus_code=True)
