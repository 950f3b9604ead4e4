"""Which ``model.core`` settings a checkpoint's core was built with, read from its weight shapes.

A core checkpoint carries no config (the authors' layout holds weights only), but its shapes pin
most of the settings: ``emb_dim`` (the positional embeddings' width), ``spatial_patch_stride``
(the number of spatial patches, given the model's frame size and patch size), ``max_frame`` (the
temporal positions), ``mlp_dim`` and the two depths. :func:`differing_core_settings` names the
ones that differ from a built model, so a shape mismatch can say which setting to change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

from brainenc.models.tokenizer import unfolded_size

_PREFIX = "core.vivit."
_BLOCK = re.compile(rf"^{re.escape(_PREFIX)}(spatial|temporal)_transformer\.blocks\.(\d+)\.")


def _depths(state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    found: dict[str, set[int]] = {"spatial": set(), "temporal": set()}
    for key in state:
        match = _BLOCK.match(key)
        if match:
            found[match.group(1)].add(int(match.group(2)))
    return {f"{kind}_depth": len(blocks) for kind, blocks in found.items() if blocks}


def _core_settings(
    state: Mapping[str, torch.Tensor], frame_size: tuple[int, int], patch: tuple[int, int, int]
) -> dict[str, int]:
    """Settings implied by the shapes of ``state`` (``core.*`` keys), for the given geometry."""
    settings = _depths(state)
    spatial = state.get(f"{_PREFIX}tokenizer.spatial_pos_embedding")
    if spatial is not None and spatial.dim() == 4:
        settings["emb_dim"] = int(spatial.shape[-1])
        patches = int(spatial.shape[2])
        strides = [
            s
            for s in range(1, max(patch[1:]) + 1)
            if unfolded_size(frame_size[0], patch[1], s) * unfolded_size(frame_size[1], patch[2], s)
            == patches
        ]
        if len(strides) == 1:
            settings["spatial_patch_stride"] = strides[0]
    temporal = state.get(f"{_PREFIX}tokenizer.temporal_pos_embedding")
    if temporal is not None and temporal.dim() == 4:
        settings["max_frame"] = int(temporal.shape[1]) + patch[0] - 1
    feedforward = state.get(f"{_PREFIX}spatial_transformer.blocks.0.ff_out.2.weight")
    if feedforward is not None and feedforward.dim() == 2:
        settings["mlp_dim"] = int(feedforward.shape[1])
    return settings


def differing_core_settings(model: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """``model.core.<setting>`` entries whose value differs between ``state`` and ``model``.

    Parameters
    ----------
    model
        A built :class:`~brainenc.models.ViV1T` (not wrapped by peft).
    state
        A checkpoint's state dict (``core.*`` keys are read).

    Returns
    -------
    list of str
        E.g. ``["model.core.spatial_patch_stride=4 (this model: 2)"]``; empty when the shapes
        name no differing setting.
    """
    core = getattr(model, "core", None)
    tokenizer = getattr(getattr(core, "vivit", None), "tokenizer", None)
    if tokenizer is None:
        return []
    frame_size = tuple(core.frame_size)
    patch = tuple(tokenizer.patch_size)
    wanted = _core_settings(state, frame_size, patch)
    built = _core_settings(model.state_dict(), frame_size, patch)
    return [
        f"model.core.{name}={value} (this model: {built[name]})"
        for name, value in wanted.items()
        if name in built and built[name] != value
    ]
