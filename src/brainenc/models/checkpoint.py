"""Read and write ViV1T checkpoints in the authors' layout.

The authors' ``model_state.pt`` is ``{"epoch": int, "value": float, "model": state_dict,
"optimizer": AdamW state, "scheduler": dict}``; a bare state dict is accepted too. Files are read
with ``torch.load(weights_only=True)``, allowing only the numpy scalar types the authors'
scheduler entry holds; anything else that needs unpickling requires ``trust=True``.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from brainenc.atomic_files import atomic_destination
from brainenc.models.core_settings import differing_core_settings

try:  # numpy >= 2
    from numpy._core.multiarray import scalar as _numpy_scalar
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import scalar as _numpy_scalar

# What a pickled numpy scalar (e.g. the scheduler's ``best_value = np.mean(...)``) asks for.
NUMPY_SCALAR_GLOBALS = [
    _numpy_scalar,
    np.dtype,
    *(type(np.dtype(t)) for t in (np.float32, np.float64, np.int64)),
]
CheckpointPart = Literal["all", "core"]
_MAX_LISTED = 20
PARTS = ("core", "all")
"""What :func:`load_checkpoint` may load: the shared core only, or every weight."""


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read, is not trusted, or does not fit the model."""


@dataclass(frozen=True)
class Checkpoint:
    """Contents of a checkpoint file: the model state dict and the authors' metadata."""

    path: Path
    state_dict: dict[str, torch.Tensor]
    epoch: int | None
    value: float | None


@dataclass(frozen=True)
class CheckpointInfo:
    """What :func:`load_checkpoint` did.

    Attributes
    ----------
    path, part
        The file and the part loaded (``"all"`` or ``"core"``).
    epoch, value
        The authors' metadata (best epoch and its validation correlation), None for bare state dicts.
    loaded_keys
        Number of state-dict entries copied into the model.
    ignored_keys
        Checkpoint entries outside the loaded part (the heads when ``part="core"``).
    mouse_ids
        Mice that have a readout in the checkpoint.
    """

    path: Path
    part: CheckpointPart
    epoch: int | None
    value: float | None
    loaded_keys: int
    ignored_keys: tuple[str, ...]
    mouse_ids: tuple[str, ...]


def read_checkpoint(path: str | os.PathLike, trust: bool = False) -> Checkpoint:
    """Read a checkpoint (authors' layout or bare state dict) onto the CPU.

    Parameters
    ----------
    path
        ``.pt`` file written by ``torch.save``.
    trust
        Allow arbitrary unpickling (``weights_only=False``); only for files from a trusted source,
        as unpickling can execute code.
    """
    path = Path(path)
    payload = _load_payload(path, trust)
    if not isinstance(payload, Mapping):
        raise CheckpointError(f"{path}: expected a dict, found {type(payload).__name__}")
    if "model" in payload and isinstance(payload["model"], Mapping):
        state_dict, epoch, value = payload["model"], payload.get("epoch"), payload.get("value")
    elif payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        state_dict, epoch, value = payload, None, None
    else:
        raise CheckpointError(
            f"{path}: expected the authors' layout {{epoch, value, model, optimizer, scheduler}} "
            f"or a bare state dict of tensors; found top-level keys {_listed(list(payload))}"
        )
    not_tensors = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(f"{path}: state-dict entries are not tensors: {_listed(not_tensors)}")
    return Checkpoint(
        path=path,
        state_dict=dict(state_dict),
        epoch=None if epoch is None else int(epoch),
        value=None if value is None else float(value),
    )


def check_part(part: str, setting: str = "part") -> None:
    """Refuse a ``part`` other than :data:`PARTS` (``setting`` names it in the message)."""
    if part not in PARTS:
        raise ValueError(f"{setting}={part!r}; valid: {', '.join(PARTS)}.")


def load_checkpoint(
    model: nn.Module,
    path: str | os.PathLike,
    part: CheckpointPart = "all",
    trust: bool = False,
) -> CheckpointInfo:
    """Load a ViV1T checkpoint into ``model`` with strict key and shape checks.

    Load before wrapping the model with peft (LoRA renames the wrapped weights).

    Parameters
    ----------
    model
        A :class:`~brainenc.models.ViV1T`.
    path
        The authors' ``model_state.pt`` or a bare state dict.
    part
        ``"all"``: every entry must match the model (same mice, same neuron counts). ``"core"``:
        only ``core.*`` entries are loaded and must match the core; the heads stay as built
        (e.g. new mice trained from scratch on a pretrained core).
    trust
        See :func:`read_checkpoint`.

    Raises
    ------
    CheckpointError
        Unreadable or untrusted file, or missing / unexpected keys or shape mismatches (named).
    """
    check_part(part)
    expected = model.state_dict()
    if any(".base_layer." in key for key in expected):
        raise CheckpointError(
            "the model is wrapped by peft (keys contain 'base_layer'); load the checkpoint into "
            "the plain model first, then wrap it"
        )
    checkpoint = read_checkpoint(path, trust=trust)
    provided = checkpoint.state_dict
    if part == "core":
        expected = {k: v for k, v in expected.items() if k.startswith("core.")}
        ignored = tuple(k for k in provided if not k.startswith("core."))
        provided = {k: v for k, v in provided.items() if k.startswith("core.")}
    else:
        ignored = ()
    _check_match(
        checkpoint.path, part, provided, expected, differing_core_settings(model, provided)
    )
    if part == "core":
        model.get_submodule("core").load_state_dict(
            {k.removeprefix("core."): v for k, v in provided.items()}
        )
    else:
        model.load_state_dict(provided)
    return CheckpointInfo(
        path=checkpoint.path,
        part=part,
        epoch=checkpoint.epoch,
        value=checkpoint.value,
        loaded_keys=len(provided),
        ignored_keys=ignored,
        mouse_ids=tuple(_mice(checkpoint.state_dict)),
    )


def save_checkpoint(
    model: nn.Module,
    path: str | os.PathLike,
    epoch: int,
    value: float,
    optimizer: torch.optim.Optimizer | Mapping[str, Any] | None = None,
    scheduler: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``{"epoch", "value", "model", ["optimizer"], ["scheduler"]}`` atomically.

    Parameters
    ----------
    model
        Its ``state_dict()`` is stored on the CPU under ``"model"``.
    path
        Target file; written to a temporary file in the same folder, then renamed.
    epoch, value
        Epoch of the checkpoint and its validation metric (the authors store the single-trial
        correlation).
    optimizer
        An optimizer (its ``state_dict()`` is stored) or an optimizer state dict; omitted if None.
    scheduler
        Plain dict of scheduler attributes; omitted if None.
    """
    path = Path(path)
    payload: dict[str, Any] = {
        "epoch": int(epoch),
        "value": float(value),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    if optimizer is not None:
        payload["optimizer"] = (
            optimizer.state_dict() if isinstance(optimizer, torch.optim.Optimizer) else optimizer
        )
    if scheduler is not None:
        payload["scheduler"] = dict(scheduler)
    with atomic_destination(path) as temporary:
        torch.save(payload, temporary)
    return path


def _load_payload(path: Path, trust: bool) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist or is not a file")
    try:
        with torch.serialization.safe_globals(NUMPY_SCALAR_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as error:
        if not trust and "Weights only load failed" in str(error):
            unsafe = _unsafe_globals(path)
            if unsafe:
                raise CheckpointError(
                    f"{path} refers to pickled objects beyond tensors and numpy scalars "
                    f"({', '.join(unsafe)}); loading it could execute code. Pass trust=True only "
                    "if the file comes from a source you trust."
                ) from None
        raise CheckpointError(
            f"{path} cannot be read (corrupted or truncated?): {error}"
        ) from error
    except Exception as error:
        raise CheckpointError(
            f"{path} cannot be read (corrupted or truncated?): {type(error).__name__}: {error}"
        ) from error


def _unsafe_globals(path: Path) -> list[str]:
    """Globals the file needs beyond torch's and ours; empty if that cannot be determined."""
    allowed = {f"{g.__module__}.{g.__qualname__}" for g in NUMPY_SCALAR_GLOBALS}
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:
        return []
    return [name for name in found if name not in allowed]


def _check_match(
    path: Path,
    part: CheckpointPart,
    provided: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
    settings: list[str],
) -> None:
    missing = [k for k in expected if k not in provided]
    unexpected = [k for k in provided if k not in expected]
    mismatched = [
        f"{k}: checkpoint {tuple(provided[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in provided and provided[k].shape != v.shape
    ]
    if not (missing or unexpected or mismatched):
        return
    problems = [f"{path} does not fit the model (part={part!r}):"]
    if settings:
        problems.append(
            "The checkpoint's core was built with other settings; build the model with "
            f"{', '.join(settings)}."
        )
    if missing:
        problems.append(f"missing keys ({len(missing)}): {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {_listed(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches ({len(mismatched)}): {_listed(mismatched)}")
    extra_mice = sorted(set(_mice(provided)) - set(_mice(expected)))
    absent_mice = sorted(set(_mice(expected)) - set(_mice(provided)))
    if extra_mice or absent_mice or any(k.startswith("readouts.") for k in mismatched):
        problems.append(
            f"The heads differ (checkpoint-only mice {extra_mice}, model-only mice {absent_mice}, "
            "or different neuron counts): build the model with the checkpoint's mice and neurons, "
            "or load part='core' and train new heads."
        )
    raise CheckpointError("\n  ".join(problems))


def _mice(state_dict: Mapping[str, Any]) -> list[str]:
    """Mouse ids with a readout, in key order."""
    return list(dict.fromkeys(k.split(".")[1] for k in state_dict if k.startswith("readouts.")))


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (
        f", ... and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
    )
