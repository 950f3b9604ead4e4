"""How many parameters of a model are LoRA adapters, per-mouse heads or the shared core, and
how many train (kinds: :mod:`brainenc.models.parameter_kinds`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from brainenc.models.parameter_kinds import KINDS, parameter_kind


@dataclass(frozen=True)
class TrainableCounts:
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


def count_parameters(model: nn.Module) -> TrainableCounts:
    """Count a model's LoRA, head and core parameters and how many of all of them train."""
    counts = dict.fromkeys(KINDS, 0)
    trainable = 0
    for name, parameter in model.named_parameters():
        counts[parameter_kind(name)] += parameter.numel()
        if parameter.requires_grad:
            trainable += parameter.numel()
    total = sum(counts.values())
    percent = 100.0 * trainable / total if total else 0.0
    return TrainableCounts(
        counts["lora"], counts["head"], counts["core"], total, trainable, round(percent, 4)
    )
