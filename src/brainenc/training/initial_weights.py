"""Weights a run starts from: a pretrained checkpoint, or an earlier run (``continue_from``).

* ``pretrained.path`` is loaded into the freshly built model with
  :func:`brainenc.models.load_checkpoint` (``part="core"`` by default), before the peft
  strategy wraps it.
* ``continue_from`` (a run directory or a Lightning ``.ckpt``) continues an earlier run for more
  epochs with a fresh optimizer and schedule. A checkpoint without LoRA weights is loaded into
  the bare model at once; one with LoRA adapters is handed to the module, which loads it after
  the strategy wrapped the model (the run must use the same LoRA settings).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from brainenc.models import load_checkpoint

CONTINUE_CANDIDATES = ("checkpoints/best.ckpt", "checkpoints/last.ckpt")
_MODULE_PREFIX = "model."


def resolve_run_checkpoint(path: str | Path) -> Path:
    """A ``.ckpt`` file, or the best (else last) checkpoint of a run directory."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        for name in CONTINUE_CANDIDATES:
            if (path / name).is_file():
                return path / name
    raise FileNotFoundError(
        f"continue_from={path}: expected a Lightning .ckpt file or a run directory holding "
        f"{' or '.join(CONTINUE_CANDIDATES)}."
    )


def read_model_state(checkpoint: str | Path) -> dict[str, Tensor]:
    """The model's entries of a Lightning checkpoint, without the module's ``model.`` prefix."""
    try:
        payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(
            f"{checkpoint}: cannot read the Lightning checkpoint ({error})."
        ) from error
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise ValueError(f"{checkpoint}: not a Lightning checkpoint (no 'state_dict' entry).")
    state = {
        k[len(_MODULE_PREFIX) :]: v
        for k, v in payload["state_dict"].items()
        if k.startswith(_MODULE_PREFIX)
    }
    if not state:
        raise ValueError(f"{checkpoint}: the checkpoint holds no 'model.*' weights.")
    return state


def has_adapters(state: dict[str, Tensor]) -> bool:
    """True for a state dict of a peft-wrapped model (LoRA weights present)."""
    return any("lora_" in key or ".base_layer." in key for key in state)


def load_continuation(model: nn.Module, path: str | Path) -> dict[str, Tensor] | None:
    """Start ``model`` from an earlier run (see module docstring).

    Returns
    -------
    dict or None
        The state to load once the strategy wrapped the model (LoRA checkpoints), else None
        (already loaded into ``model``).
    """
    checkpoint = resolve_run_checkpoint(path)
    state = read_model_state(checkpoint)
    if has_adapters(state):
        return state
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"continue_from={checkpoint}: its weights do not fit this model (missing "
            f"{result.missing_keys[:8]}, unexpected {result.unexpected_keys[:8]}); continue with "
            "the same model and data (mice) as the earlier run."
        )
    return None


def load_pretrained(
    model: nn.Module, path: str | Path, part: str = "core", trust: bool = False
) -> str:
    """Load a pretrained checkpoint into the bare model; returns a one-line description."""
    info = load_checkpoint(model, path, part=part, trust=trust)
    origin = (
        f"epoch {info.epoch}, value {info.value:.4f}"
        if info.value is not None
        else "bare state dict"
    )
    return f"loaded {info.part} weights ({info.loaded_keys} entries, {origin}) from {info.path}"
