"""Weights a run starts from: a pretrained checkpoint, or an earlier run (``continue_from``).

* ``pretrained.path`` is loaded into the freshly built model with
  :func:`brainenc.models.load_checkpoint` (``part="core"`` by default), before the peft
  strategy wraps it.
* ``continue_from`` (a run directory or a Lightning ``.ckpt``, read by
  :mod:`brainenc.runs.checkpoints`) continues an earlier run for more epochs with a fresh
  optimizer and schedule. A checkpoint without LoRA weights is loaded into the bare model at once;
  one with LoRA adapters is handed to the module, which loads it after the strategy wrapped the
  model (the run must use the same LoRA settings).
* ``ckpt_path`` (a Lightning checkpoint, resumed exactly by Lightning) is first checked by
  :class:`brainenc.runs.checkpoints.ResumeCheck`.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from brainenc.models import load_checkpoint
from brainenc.runs.checkpoints import read_model_state, resolve_run_checkpoint, state_mismatch


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
    problem = state_mismatch(state, model.state_dict())
    if problem is not None:
        raise ValueError(
            f"continue_from={checkpoint}: its weights do not fit this model ({problem}); "
            "continue with the same model and data (mice) as the earlier run."
        )
    model.load_state_dict(state)
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
