"""Lightning checkpoints of a run folder (``checkpoints/*.ckpt``): written whole, read as data.

* :class:`AtomicCheckpointIO` writes them. Lightning's own writer truncates the target and then
  writes into it, so a full disk or a kill in the middle leaves a ``last.ckpt`` that cannot be
  loaded in place of the good one; this plugin serialises the checkpoint in memory, writes it to
  a temporary file beside the target, fsyncs and renames it over the target
  (:func:`brainenc.atomic_files.write_bytes_atomic`). A full disk raises
  :class:`brainenc.atomic_files.DiskFullError` naming the file and the bytes it needs, and the
  previous checkpoint stays loadable.
* They are read with ``weights_only`` (no code is unpickled): :func:`read_state_dict`,
  :func:`read_model_state` (of the file :func:`resolve_run_checkpoint` finds for
  ``continue_from``: a ``.ckpt``, or a run folder's best, else last, checkpoint) and
  :func:`checkpoint_epoch`.
* :class:`ResumeCheck` checks a ``ckpt_path`` checkpoint before Lightning restores it: a file of
  another model, mice or peft setting fails naming the entries that differ.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch import Tensor

from brainenc.atomic_files import write_bytes_atomic
from brainenc.runs.folder import (
    BEST_CHECKPOINT,
    CHECKPOINT_FOLDER,
    INTERRUPTED_CHECKPOINT,
    LAST_CHECKPOINT,
)

CONTINUE_CANDIDATES = tuple(f"{CHECKPOINT_FOLDER}/{n}" for n in (BEST_CHECKPOINT, LAST_CHECKPOINT))
_MODULE_PREFIX = "model."


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoint plugin of brainenc trainers (``Trainer(plugins=[AtomicCheckpointIO()])``)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options.")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_bytes_atomic(path, buffer.getvalue())


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
            f"checkpoint of the run ({CHECKPOINT_FOLDER}/{LAST_CHECKPOINT}, {BEST_CHECKPOINT} or "
            f"{INTERRUPTED_CHECKPOINT})."
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


def checkpoint_epoch(checkpoint: str | Path) -> int:
    """The epoch a Lightning checkpoint was saved at."""
    payload = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    return int(payload["epoch"])


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
