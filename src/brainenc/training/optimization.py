"""Optimizer over the trainable parameters only, in named groups, and its learning-rate schedule.

The ``optim`` config group builds an :class:`OptimRecipe` (``_target_``): a ``_partial_``
optimizer (``optim.optimizer``), a ``_partial_`` scheduler (``optim.scheduler``, or null), the
scheduler ``interval`` (``step`` schedules receive ``total_steps=trainer.estimated_stepping_batches``;
``epoch`` schedules such as reduce-on-plateau are stepped after validation on ``monitor``) and
optional per-group settings ``optim.param_groups.{lora,head,core}.{lr,weight_decay}`` (e.g. the
authors' separate core and head learning rates). The recipe checks its settings when built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn
from torch.optim import Optimizer

from brainenc.models.parameter_kinds import KINDS, parameter_kind

GROUP_SETTINGS = ("lr", "weight_decay")
INTERVALS = ("step", "epoch")


def check_interval(interval: str) -> None:
    """Refuse a scheduler interval other than :data:`INTERVALS`."""
    if interval not in INTERVALS:
        raise ValueError(f"optim.interval={interval!r}; valid: {', '.join(INTERVALS)}.")


def check_group_overrides(overrides: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict]:
    """Validate ``optim.param_groups``: keys among lora/head/core, settings lr/weight_decay >= 0."""
    checked: dict[str, dict] = {}
    for kind, settings in (overrides or {}).items():
        if kind not in KINDS:
            raise ValueError(
                f"optim.param_groups.{kind}: unknown parameter group; valid: {', '.join(KINDS)}."
            )
        for key, value in (settings or {}).items():
            if key not in GROUP_SETTINGS:
                raise ValueError(
                    f"optim.param_groups.{kind}.{key}: unknown setting; valid: "
                    f"{', '.join(GROUP_SETTINGS)}."
                )
            if value is None:
                continue
            if float(value) < 0 or (key == "lr" and float(value) == 0):
                raise ValueError(
                    f"optim.param_groups.{kind}.{key} must be {'> 0' if key == 'lr' else '>= 0'}, "
                    f"got {value}."
                )
        checked[kind] = {k: float(v) for k, v in (settings or {}).items() if v is not None}
    return checked


@dataclass(frozen=True)
class OptimRecipe:
    """How the trainable parameters are optimised: the ``optim`` config group, checked when built.

    ``optimizer`` and ``scheduler`` are partials (``scheduler`` may be None); ``interval`` is
    ``step`` or ``epoch``; ``monitor`` names the metric an epoch-wise scheduler reads;
    ``param_groups`` overrides ``lr`` / ``weight_decay`` per parameter kind; ``name`` is the
    group option's name (reports and sweep labels).
    """

    optimizer: Callable[..., Optimizer]
    scheduler: Callable[..., Any] | None = None
    interval: str = "step"
    monitor: str | None = None
    param_groups: Mapping[str, Mapping[str, Any]] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        settings = getattr(self.optimizer, "keywords", {})
        lr = settings.get("lr")
        if not (isinstance(lr, int | float) and lr > 0):
            raise ValueError(f"optim.optimizer.lr must be a positive number, got {lr!r}.")
        weight_decay = settings.get("weight_decay", 0.0)
        if not (isinstance(weight_decay, int | float) and weight_decay >= 0):
            raise ValueError(f"optim.optimizer.weight_decay must be >= 0, got {weight_decay!r}.")
        check_interval(self.interval)
        if self.scheduler is not None:
            warmup = getattr(self.scheduler, "keywords", {}).get("warmup_steps", 0)
            if not (isinstance(warmup, int) and warmup >= 0):
                raise ValueError(
                    f"optim.scheduler.warmup_steps must be an integer >= 0, got {warmup!r}."
                )
            if self.interval == "epoch" and not self.monitor:
                raise ValueError(
                    "optim.monitor must name a metric (e.g. val/corr) for an epoch-wise scheduler."
                )
        check_group_overrides(self.param_groups)


def parameter_groups(
    model: nn.Module, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Named parameter groups (``lora``, ``head``, ``core``) of the trainable parameters only.

    Groups without trainable parameters are left out; ``overrides`` sets a group's ``lr`` or
    ``weight_decay`` (otherwise the optimizer's defaults apply).
    """
    settings = check_group_overrides(overrides)
    members: dict[str, list[nn.Parameter]] = {kind: [] for kind in KINDS}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            members[parameter_kind(name)].append(parameter)
    groups = [
        {"name": kind, "params": params, **settings.get(kind, {})}
        for kind, params in members.items()
        if params
    ]
    if not groups:
        raise RuntimeError("optimizer: the model has no trainable parameter.")
    return groups


def configure_optimization(
    model: nn.Module,
    optimizer: Callable[..., Optimizer],
    scheduler: Callable[..., Any] | None,
    interval: str,
    monitor: str | None,
    total_steps: int | float,
    group_overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build what ``LightningModule.configure_optimizers`` returns.

    Parameters
    ----------
    optimizer, scheduler
        Partials from ``optim.optimizer`` and ``optim.scheduler`` (``scheduler`` may be None).
    interval
        ``"step"`` (scheduler called with ``total_steps``) or ``"epoch"``.
    monitor
        Metric an epoch-wise scheduler such as ``ReduceLROnPlateau`` reads, e.g. ``"val/corr"``.
    total_steps
        ``trainer.estimated_stepping_batches``.
    """
    check_interval(interval)
    built = optimizer(parameter_groups(model, group_overrides))
    if scheduler is None:
        return {"optimizer": built}
    lr_scheduler = (
        scheduler(built, total_steps=total_steps) if interval == "step" else scheduler(built)
    )
    config: dict[str, Any] = {"scheduler": lr_scheduler, "interval": interval, "frequency": 1}
    if monitor:
        config["monitor"] = monitor
    return {"optimizer": built, "lr_scheduler": config}
