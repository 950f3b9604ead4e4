"""Weights a run starts from: a pretrained checkpoint, or an earlier run (``continue_from``).

* ``pretrained.path`` is loaded into the freshly built model with
  :func:`brainenc.models.load_checkpoint` (``part="core"`` by default), before the peft
  strategy wraps it.
* ``continue_from`` (a run directory or a Lightning ``.ckpt``) continues an earlier run for more
  epochs with a fresh optimizer and schedule. A checkpoint without LoRA weights is loaded into
  the bare model at once; one with LoRA adapters is handed to the module, which loads it after
  the strategy wrapped the model (the run must use the same LoRA settings).
* ``ckpt_path`` (a Lightning checkpoint, resumed exactly by Lightning) is first checked by
  :class:`ResumeCheck`: a file of another model, mice or peft setting fails naming the entries
  that differ, before Lightning restores anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import lightning.pytorch as pl
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


def read_state_dict(checkpoint: str | Path, setting: str) -> dict[str, Tensor]:
    """The ``state_dict`` entry of a Lightning checkpoint, read without unpickling code.

    Raises
    ------
    ValueError
        Naming ``setting`` and the file when it cannot be read (truncated, not a checkpoint).
    """
    try:
        payload = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:
        raise ValueError(
            f"{setting}={checkpoint}: cannot read the Lightning checkpoint ({error}); the file "
            "is damaged (e.g. cut short by a full disk) or not a checkpoint. Point it at another "
            "checkpoint of the run (checkpoints/last.ckpt, best.ckpt or interrupted.ckpt)."
        ) from error
    if not isinstance(payload, dict) or not isinstance(payload.get("state_dict"), dict):
        raise ValueError(
            f"{setting}={checkpoint}: not a Lightning checkpoint (no 'state_dict' entry)."
        )
    return payload["state_dict"]


def read_model_state(checkpoint: str | Path) -> dict[str, Tensor]:
    """The model's entries of a Lightning checkpoint, without the module's ``model.`` prefix."""
    state = {
        k[len(_MODULE_PREFIX) :]: v
        for k, v in read_state_dict(checkpoint, "continue_from").items()
        if k.startswith(_MODULE_PREFIX)
    }
    if not state:
        raise ValueError(f"{checkpoint}: the checkpoint holds no 'model.*' weights.")
    return state


def state_mismatch(given: Mapping[str, Tensor], expected: Mapping[str, Tensor]) -> str | None:
    """How a state dict differs from the one a model expects (None when it fits exactly)."""
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    reshaped = sorted(k for k in set(given) & set(expected) if given[k].shape != expected[k].shape)
    parts = [
        f"{k}: {tuple(given[k].shape)} in the file, {tuple(expected[k].shape)} here"
        for k in reshaped[:4]
    ]
    if missing:
        parts.append(f"missing {missing[:4]}{' ...' if len(missing) > 4 else ''}")
    if unexpected:
        parts.append(f"unexpected {unexpected[:4]}{' ...' if len(unexpected) > 4 else ''}")
    return "; ".join(parts) or None


class ResumeCheck(pl.Callback):
    """Check that the ``ckpt_path`` checkpoint fits the module before Lightning restores it.

    Runs at ``setup`` after the peft strategy (put it after the strategy in the callbacks), so
    the module's entries are those of the wrapped model, as in the checkpoint.
    """

    def __init__(self, checkpoint: str | Path) -> None:
        self.checkpoint = Path(checkpoint)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        given = read_state_dict(self.checkpoint, "ckpt_path")
        problem = state_mismatch(given, pl_module.state_dict())
        if problem is not None:
            raise ValueError(
                f"ckpt_path={self.checkpoint}: the checkpoint does not fit this run's model "
                f"({problem}). Resume with the model, data (mice) and peft settings of the run "
                "that wrote it, or start a new run from its weights with +continue_from=<run>."
            )


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
