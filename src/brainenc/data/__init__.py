"""Allen Brain Observatory sessions to ViV1T clips: building, statistics and serving.

Building (`python -m brainenc.data.build`, or `build_dataset`) imports allensdk lazily;
serving (`MouseDataset`, `BrainDataModule`) never does. Names are imported on first use, so
`import brainenc.data.mouse_folder` stays light (no torch or Lightning).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BrainDataModule": "brainenc.data.datamodule",
    "BuildConfig": "brainenc.data.config",
    "MouseBatchSampler": "brainenc.data.sampler",
    "MouseDataset": "brainenc.data.dataset",
    "Normaliser": "brainenc.data.transforms",
    "build_dataset": "brainenc.data.build",
    **dict.fromkeys(
        (
            "ConfigError",
            "DatasetExistsError",
            "DatasetIntegrityError",
            "IncompleteRepeatsError",
            "MissingDataError",
            "MissingTracesError",
            "NoEyeTrackingError",
            "SessionFileError",
            "UnreadableSessionError",
        ),
        "brainenc.data.errors",
    ),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'brainenc.data' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
