"""Which parameters are LoRA adapters, per-mouse heads or the shared core, and how many train.

A parameter name is classified after removing peft's ``base_model.model.`` prefix:
``lora_`` anywhere in the name → ``"lora"``; a name starting with ``core.`` → ``"core"``;
anything else (``shifters.<mouse_id>.…``, ``readouts.<mouse_id>.…``) → ``"head"``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

KINDS = ("lora", "head", "core")
_PEFT_PREFIX = "base_model.model."


def parameter_kind(name: str) -> str:
    """Return ``"lora"``, ``"core"`` or ``"head"`` for a parameter name (see module docstring)."""
    if name.startswith(_PEFT_PREFIX):
        name = name[len(_PEFT_PREFIX) :]
    if "lora_" in name:
        return "lora"
    if name.startswith("core."):
        return "core"
    return "head"


@dataclass(frozen=True)
class ParameterCounts:
    """Parameter counts of a model; ``trainable_percent = 100 * trainable / total``.

    ``total`` includes the LoRA parameters, as peft's ``print_trainable_parameters`` does.
    """

    lora: int
    head: int
    core: int
    total: int
    trainable: int
    trainable_percent: float

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)

    def summary(self) -> str:
        """One line for the console, e.g. ``trainable 117,248 / 3,073,530 (3.81%) | …``."""
        return (
            f"trainable {self.trainable:,} / {self.total:,} ({self.trainable_percent:.2f}%) | "
            f"lora {self.lora:,}, head {self.head:,}, core {self.core:,}"
        )


def count_parameters(model: nn.Module) -> ParameterCounts:
    """Count a model's LoRA, head and core parameters and how many of all of them train."""
    counts = dict.fromkeys(KINDS, 0)
    trainable = 0
    for name, parameter in model.named_parameters():
        counts[parameter_kind(name)] += parameter.numel()
        if parameter.requires_grad:
            trainable += parameter.numel()
    total = sum(counts.values())
    percent = 100.0 * trainable / total if total else 0.0
    return ParameterCounts(
        counts["lora"], counts["head"], counts["core"], total, trainable, round(percent, 4)
    )
