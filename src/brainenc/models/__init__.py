"""The ViV1T video transformer with per-mouse shifters and Gaussian readouts.

Build from Hydra in two steps, because the heads need facts only the data knows::

    build = hydra.utils.instantiate(cfg.model)   # functools.partial(ViV1T, core=ViViTCore(...), ...)
    model = build(mice=datamodule.mice)          # {mouse_id: MouseSpec}
"""

from __future__ import annotations

from brainenc.models.blocks import DropPath, ParallelTransformerBlock, Transformer
from brainenc.models.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointInfo,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from brainenc.models.core import FactorizedTransformer, ViViTCore
from brainenc.models.encoder import (
    OUTPUT_ACTIVATIONS,
    MouseSpec,
    ParameterCounts,
    ViV1T,
)
from brainenc.models.patch_projection import folded_patch_projection
from brainenc.models.readout import GaussianReadout
from brainenc.models.shifter import MLPShifter
from brainenc.models.tokenizer import PatchUnfold, Tokenizer

__all__ = [
    "OUTPUT_ACTIVATIONS",
    "Checkpoint",
    "CheckpointError",
    "CheckpointInfo",
    "DropPath",
    "GaussianReadout",
    "MLPShifter",
    "MouseSpec",
    "ParallelTransformerBlock",
    "ParameterCounts",
    "PatchUnfold",
    "Tokenizer",
    "Transformer",
    "ViV1T",
    "FactorizedTransformer",
    "ViViTCore",
    "folded_patch_projection",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
]
