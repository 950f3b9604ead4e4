"""Portable artifacts of a trained run, and loading them back.

* ``adapter/`` (LoRA runs): peft's ``save_pretrained`` output (:data:`ADAPTER_CONFIG`,
  ``adapter_model.safetensors``), :data:`HEADS` (state dict of every mouse's shifter and readout,
  keys ``shifters.<m>.*`` / ``readouts.<m>.*``) and :data:`BASE_CORE` (the core it adapts: path
  and sha256 of the pretrained checkpoint). Rebuild the bare model, load that core, then
  :func:`load_adapter`.
* ``export/model.pt``: a bare state dict of the plain model (LoRA merged into the core weights
  with ``merge_and_unload``), loadable with ``model.load_state_dict`` or
  :func:`brainenc.models.load_checkpoint` into a freshly built model; :func:`load_trained_model`
  rebuilds model and data of a run from its directory.

Directories are written to a temporary sibling and renamed into place.
"""

from __future__ import annotations

import copy
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from brainenc.atomic_files import write_bytes_atomic, write_json_atomic
from brainenc.digests import sha256_file
from brainenc.models import load_checkpoint
from brainenc.models.parameter_kinds import parameter_kind
from brainenc.runs.folder import EXPORTED_MODEL, read_resolved_config
from brainenc.runs.stored_config import build_stored

ADAPTER_CONFIG = "adapter_config.json"  # written by peft's save_pretrained
HEADS = "heads.pt"
BASE_CORE = "brainenc_adapter.json"


def is_peft_model(model: nn.Module) -> bool:
    """True for a peft-wrapped model (without importing peft when nothing used it)."""
    peft = sys.modules.get("peft")
    return peft is not None and isinstance(model, peft.PeftModel)


def plain_model(model: nn.Module) -> nn.Module:
    """A plain copy of ``model``: LoRA merged into the base weights (the input is not changed)."""
    if is_peft_model(model):
        return copy.deepcopy(model).merge_and_unload()
    return model


def head_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Shifter and readout entries (parameters and buffers) of a plain or peft-wrapped model."""
    base = model.get_base_model() if is_peft_model(model) else model
    return {
        k: v.detach().cpu().clone()
        for k, v in base.state_dict().items()
        if parameter_kind(k) == "head"
    }


def _replace_directory(staging: Path, target: Path) -> None:
    backup = None
    if target.exists():
        backup = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, backup)
    os.replace(staging, target)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def save_adapter(
    model: nn.Module, directory: str | Path, pretrained: str | Path | None = None
) -> Path:
    """Save a LoRA run's adapter, heads and base-core reference to ``directory`` (see module doc)."""
    if not is_peft_model(model):
        raise TypeError(f"save_adapter needs a peft-wrapped model, got {type(model).__name__}")
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; the artifact is to be shared
    try:
        model.save_pretrained(str(staging))
        torch.save(head_state_dict(model), staging / HEADS)
        reference: dict[str, Any] = {"pretrained": None, "pretrained_sha256": None}
        if pretrained is not None and Path(pretrained).is_file():
            reference = {
                "pretrained": str(Path(pretrained).resolve()),
                "pretrained_sha256": sha256_file(pretrained),
            }
        write_json_atomic(staging / BASE_CORE, reference)
        _replace_directory(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def load_adapter(model: nn.Module, directory: str | Path, is_trainable: bool = False) -> nn.Module:
    """Wrap a bare model (pretrained core already loaded) with a saved adapter and its heads.

    Parameters
    ----------
    model
        Freshly built plain model with the same mice as the saved run.
    directory
        An ``adapter/`` folder written by :func:`save_adapter`.
    is_trainable
        Keep the adapters trainable (peft freezes them otherwise).
    """
    from peft import PeftModel

    directory = Path(directory)
    heads_path = directory / HEADS
    if not (directory / ADAPTER_CONFIG).is_file() or not heads_path.is_file():
        raise FileNotFoundError(
            f"{directory} is not an adapter folder (expected {ADAPTER_CONFIG}, "
            f"adapter_model.safetensors and {HEADS} written by a LoRA run)."
        )
    heads = torch.load(heads_path, map_location="cpu", weights_only=True)
    missing = set(head_state_dict(model)) ^ set(heads)
    if missing:
        raise ValueError(
            f"{heads_path}: head entries do not match the model (differing keys: "
            f"{sorted(missing)[:8]}); build the model with the run's mice."
        )
    model.load_state_dict(heads, strict=False)
    return PeftModel.from_pretrained(model, str(directory), is_trainable=is_trainable)


def export_plain_state_dict(model: nn.Module, path: str | Path) -> Path:
    """Write the plain (LoRA-merged) model's state dict to ``path`` atomically."""
    state = {k: v.detach().cpu() for k, v in plain_model(model).state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return write_bytes_atomic(path, buffer.getvalue())


def load_trained_model(run_dir: str | Path) -> tuple[nn.Module, Any]:
    """The selected model of a finished run and its data, rebuilt from the run directory.

    Reads ``config_resolved.yaml`` as data and builds its model and data nodes only through the
    allow-list of :mod:`brainenc.runs.stored_config`; sets up the data module (no build) and
    loads ``export/model.pt`` into a plain model built for the data's mice.

    Returns
    -------
    model, datamodule
        The plain (LoRA-merged) model in eval mode, and the data module after ``setup``.
    """
    run_dir = Path(run_dir)
    weights = run_dir / EXPORTED_MODEL
    if not weights.is_file():
        raise FileNotFoundError(
            f"{weights} is missing: the run did not finish, or ran with export.merged=false."
        )
    source, config = read_resolved_config(run_dir)
    datamodule, build_model = build_stored(config, source, "data", "model")
    datamodule.setup("test")
    model = build_model(mice=datamodule.mice)
    load_checkpoint(model, weights, part="all")
    return model.eval(), datamodule
