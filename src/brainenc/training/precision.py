"""Choose the training precision for the device (``trainer.precision: auto``).

``auto`` gives ``bf16-mixed`` on CUDA GPUs of compute capability >= 8 (Ampere and newer),
``16-mixed`` on older CUDA GPUs (a P100, capability 6.0, has fp16 but no bf16 units, although
``torch.cuda.is_bf16_supported()`` says True because it counts emulation) and ``32`` on the CPU.
Explicit values are passed through after a check.
"""

from __future__ import annotations

import torch

PRECISIONS = (
    "auto",
    "32",
    "32-true",
    "16-mixed",
    "bf16-mixed",
    "64",
    "64-true",
    "16-true",
    "bf16-true",
)


def resolve_precision(precision: str | int, accelerator: str = "auto") -> str:
    """Return a Lightning precision string for ``precision`` on ``accelerator``.

    Parameters
    ----------
    precision
        ``"auto"`` or a Lightning precision (``32``, ``"16-mixed"``, ``"bf16-mixed"``, ...).
    accelerator
        The trainer's accelerator (``"auto"``, ``"cpu"``, ``"gpu"``, ``"cuda"``, ...).
    """
    precision = str(precision)
    if precision not in PRECISIONS:
        raise ValueError(
            f"trainer.precision={precision!r} is not supported; valid: {', '.join(PRECISIONS)}."
        )
    if precision != "auto":
        return precision
    uses_cuda = accelerator in ("gpu", "cuda") or (
        accelerator == "auto" and torch.cuda.is_available()
    )
    if not uses_cuda or not torch.cuda.is_available():
        return "32"
    major, _ = torch.cuda.get_device_capability()
    return "bf16-mixed" if major >= 8 else "16-mixed"
