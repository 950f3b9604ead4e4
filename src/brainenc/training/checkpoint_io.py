"""How the trainer writes checkpoints: whole files or nothing.

Lightning's own writer truncates the target and then writes into it, so a full disk or a kill
in the middle leaves a ``last.ckpt`` that cannot be loaded in place of the good one.
:class:`AtomicCheckpointIO` serialises the checkpoint in memory, writes it to a temporary file
beside the target, fsyncs and renames it over the target
(:func:`brainenc.atomic_files.write_bytes_atomic`); a full disk raises
:class:`brainenc.atomic_files.DiskFullError` naming the file and the bytes it needs, and the
previous checkpoint stays loadable.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from brainenc.atomic_files import write_bytes_atomic


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
