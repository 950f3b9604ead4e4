"""Learning-rate schedules stepped once per optimizer step, with optional linear warm-up.

Each factory takes the optimizer and ``total_steps`` (``trainer.estimated_stepping_batches``,
which already accounts for gradient accumulation) and returns a ``LambdaLR``. The learning rate
of every parameter group is multiplied by ``f(step)``:

* warm-up (``step < warmup_steps``): ``f = (step + 1) / warmup_steps``;
* ``cosine``: ``f = m + (1 - m) * (1 + cos(pi * p)) / 2``;
* ``linear``: ``f = m + (1 - m) * (1 - p)``;
* ``constant``: ``f = 1``;

with ``p = (step - warmup_steps) / (total_steps - warmup_steps)`` clipped to [0, 1] and ``m`` the
``min_lr_ratio``. The authors' reduce-on-plateau schedule is torch's ``ReduceLROnPlateau``
configured in ``conf/optim/plateau.yaml`` (epoch-wise, on ``val/corr``).
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

SHAPES = ("cosine", "linear", "constant")


class WarmupDecay:
    """Multiplier ``f(step)`` of the module docstring (a picklable callable, so it is checkpointed)."""

    def __init__(
        self, shape: str, total_steps: int, warmup_steps: int, min_lr_ratio: float
    ) -> None:
        if shape not in SHAPES:
            raise ValueError(f"schedule shape {shape!r} unknown; valid: {', '.join(SHAPES)}.")
        if not math.isfinite(total_steps) or total_steps < 1:
            raise ValueError(
                f"optim.scheduler: the schedule needs a finite number of optimizer steps, got "
                f"{total_steps}; set trainer.max_epochs (or trainer.max_steps) to a positive value."
            )
        if warmup_steps < 0:
            raise ValueError(f"optim.scheduler.warmup_steps must be >= 0, got {warmup_steps}.")
        if warmup_steps >= total_steps and shape != "constant":
            raise ValueError(
                f"optim.scheduler.warmup_steps={warmup_steps} is not smaller than the "
                f"{int(total_steps)} optimizer steps of this run; lower it."
            )
        if not 0.0 <= min_lr_ratio <= 1.0:
            raise ValueError(f"optim.scheduler.min_lr_ratio must be in [0, 1], got {min_lr_ratio}.")
        self.shape = shape
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.min_lr_ratio = float(min_lr_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.shape == "constant":
            return 1.0
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        if self.shape == "cosine":
            decay = 0.5 * (1.0 + math.cos(math.pi * progress))
        else:
            decay = 1.0 - progress
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * decay


def cosine(
    optimizer: Optimizer, total_steps: int, warmup_steps: int = 0, min_lr_ratio: float = 0.0
) -> LambdaLR:
    """Cosine decay from the base learning rate to ``min_lr_ratio`` times it, after warm-up."""
    return LambdaLR(optimizer, WarmupDecay("cosine", total_steps, warmup_steps, min_lr_ratio))


def linear(
    optimizer: Optimizer, total_steps: int, warmup_steps: int = 0, min_lr_ratio: float = 0.0
) -> LambdaLR:
    """Linear decay from the base learning rate to ``min_lr_ratio`` times it, after warm-up."""
    return LambdaLR(optimizer, WarmupDecay("linear", total_steps, warmup_steps, min_lr_ratio))


def constant(optimizer: Optimizer, total_steps: int, warmup_steps: int = 0) -> LambdaLR:
    """Constant learning rate, after an optional warm-up."""
    return LambdaLR(optimizer, WarmupDecay("constant", total_steps, warmup_steps, 0.0))
