"""The ViV1T video transformer with per-mouse shifters and Gaussian readouts.

Build from Hydra in two steps, because the heads need facts only the data knows::

    build = hydra.utils.instantiate(cfg.model)   # functools.partial(ViV1T, core=ViViTCore(...), ...)
    model = build(mice=datamodule.mice)          # {mouse_id: MouseSpec}

Names are imported on first use, so the torch-free modules (``parameter_kinds``) stay light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    **dict.fromkeys(("DropPath", "ParallelTransformerBlock", "Transformer"), "blocks"),
    **dict.fromkeys(
        (
            "Checkpoint",
            "CheckpointError",
            "CheckpointInfo",
            "load_checkpoint",
            "read_checkpoint",
            "save_checkpoint",
        ),
        "checkpoint",
    ),
    **dict.fromkeys(("FactorizedTransformer", "ViViTCore"), "core"),
    **dict.fromkeys(("OUTPUT_ACTIVATIONS", "MouseSpec", "ParameterCounts", "ViV1T"), "encoder"),
    "folded_patch_projection": "patch_projection",
    "GaussianReadout": "readout",
    "MLPShifter": "shifter",
    **dict.fromkeys(("PatchUnfold", "Tokenizer"), "tokenizer"),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'brainenc.models' has no attribute '{name}'")
    return getattr(importlib.import_module(f"brainenc.models.{_EXPORTS[name]}"), name)
