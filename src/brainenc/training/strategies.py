"""Fine-tuning strategies (the ``peft`` config group) as Lightning callbacks.

A strategy changes which weights of ``pl_module.model`` train: at ``setup``, before Lightning
builds the optimizer, it freezes parameters or wraps the model with LoRA adapters, then prints
and stores the parameter counts. Because the model itself is untouched until then, every strategy
composes with any model configuration.

| ``peft.name`` | pretrained core | trains |
|---|---|---|
| ``none`` | not allowed (from scratch) | everything |
| ``full`` | required | everything |
| ``head_only`` | required | shifters and readouts |
| ``lora`` | required | LoRA adapters (+ heads with ``train_head``) |

LoRA is applied with peft's ``get_peft_model`` on a ``LoraConfig`` built here from plain values
(no ``task_type``: the model's forward signature is its own). peft's ``modules_to_save`` cannot
name ViV1T's per-mouse ``ModuleDict`` heads, so ``train_head`` unfreezes them directly and
:mod:`brainenc.runs.artifacts` saves them beside the adapter.
"""

from __future__ import annotations

from collections.abc import Sequence

import lightning.pytorch as pl
from torch import nn

from brainenc.models.parameter_kinds import LORA_TARGETS, parameter_kind
from brainenc.training.console import announce
from brainenc.training.parameters import TrainableCounts, count_parameters

LORA_TARGET_ALIASES = {"fused": ("fused_linear",), "all": LORA_TARGETS}


class FineTuningStrategy(pl.Callback):
    """Base class: subclasses implement :meth:`apply` on the bare model."""

    name = "base"
    requires_pretrained = False

    def __init__(
        self,
        name: str | None = None,
        r: int | None = None,
        lora_alpha: float | None = None,
        target_modules: str | Sequence[str] | None = None,
        lora_dropout: float | None = None,
        train_head: bool | None = None,
        layers_to_transform: Sequence[int] | None = None,
    ) -> None:
        """Strategies without adapters take the LoRA settings of :class:`LoraStrategy` too, so
        that every ``peft`` option has the same keys (conf/peft/shared/settings.yaml) and one
        sweep can span them; settings given here have no effect and are announced."""
        self.name = name or type(self).name
        lora = {
            "r": r,
            "lora_alpha": lora_alpha,
            "target_modules": target_modules,
            "lora_dropout": lora_dropout,
            "train_head": train_head,
            "layers_to_transform": layers_to_transform,
        }
        ignored = [f"peft.{key}" for key, value in lora.items() if value is not None]
        if ignored:
            announce(f"peft={self.name} has no LoRA adapters: {', '.join(ignored)} ignored")

    def apply(self, model: nn.Module) -> nn.Module:
        """Set ``requires_grad`` (and wrap the model if needed); return the model to train."""
        raise NotImplementedError

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if getattr(pl_module, "strategy_name", None) is not None:
            return  # fit then test, or a module prepared earlier: apply once
        pl_module.model = self.apply(pl_module.model)
        pl_module.strategy_name = self.name
        counts = count_parameters(pl_module.model)
        if counts.trainable == 0:
            raise RuntimeError(f"peft={self.name}: no parameter is left trainable.")
        pl_module.parameter_counts = counts
        announce(f"peft={self.name}: {counts.summary()}")

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        counts: TrainableCounts = pl_module.parameter_counts
        for logger in trainer.loggers:
            logger.log_hyperparams({f"parameters/{k}": v for k, v in counts.as_dict().items()})


def _set_trainable(model: nn.Module, kinds: Sequence[str]) -> None:
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(parameter_kind(name) in kinds)


class FromScratch(FineTuningStrategy):
    """``peft=none``: train every weight from its random initialisation."""

    name = "none"

    def apply(self, model: nn.Module) -> nn.Module:
        _set_trainable(model, ("core", "head"))
        return model


class FullFineTuning(FromScratch):
    """``peft=full``: start from a pretrained core and train every weight."""

    name = "full"
    requires_pretrained = True


class HeadOnly(FineTuningStrategy):
    """``peft=head_only``: freeze the pretrained core, train the shifters and readouts."""

    name = "head_only"
    requires_pretrained = True

    def apply(self, model: nn.Module) -> nn.Module:
        _set_trainable(model, ("head",))
        return model


def resolve_lora_targets(target_modules: str | Sequence[str]) -> list[str]:
    """Expand ``"fused"``/``"all"`` and check every target against :data:`LORA_TARGETS`."""
    if isinstance(target_modules, str):
        if target_modules not in LORA_TARGET_ALIASES:
            raise ValueError(
                f"peft.target_modules={target_modules!r} is not a known alias; valid aliases: "
                f"{', '.join(LORA_TARGET_ALIASES)}, or a list drawn from {', '.join(LORA_TARGETS)}."
            )
        return list(LORA_TARGET_ALIASES[target_modules])
    targets = [str(t) for t in target_modules]
    unknown = [t for t in targets if t not in LORA_TARGETS]
    if unknown or not targets:
        raise ValueError(
            f"peft.target_modules: unknown LoRA target(s) {unknown or '(empty list)'}; valid "
            f"targets: {', '.join(LORA_TARGETS)} (aliases: fused, all)."
        )
    return list(dict.fromkeys(targets))


class LoraStrategy(FineTuningStrategy):
    """``peft=lora*``: LoRA adapters of rank ``r`` on the pretrained core.

    Parameters
    ----------
    r, lora_alpha
        Rank (>= 1) and scaling numerator; the update is ``(lora_alpha / r) * B @ A``.
    target_modules
        Linear layers to adapt: a list drawn from ``fused_linear``, ``attn_out``, ``ff_out.2``, or
        the alias ``"fused"`` / ``"all"``.
    lora_dropout
        Dropout on the adapter input (keep 0 when compiling a checkpointed core).
    train_head
        Also train the per-mouse shifters and readouts (peft's default freezes them).
    layers_to_transform
        Block indices to adapt (in both transformers), or ``None`` for every block.
    """

    requires_pretrained = True

    def __init__(
        self,
        name: str = "lora",
        r: int = 8,
        lora_alpha: float = 16.0,
        target_modules: str | Sequence[str] = "fused",
        lora_dropout: float = 0.0,
        train_head: bool = False,
        layers_to_transform: Sequence[int] | None = None,
    ) -> None:
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise ValueError(f"peft.r must be an integer >= 1 (the LoRA rank), got {r!r}.")
        if lora_alpha <= 0:
            raise ValueError(f"peft.lora_alpha must be > 0, got {lora_alpha!r} (seed: 2 * r).")
        if not 0.0 <= lora_dropout < 1.0:
            raise ValueError(f"peft.lora_dropout must be in [0, 1), got {lora_dropout!r}.")
        if layers_to_transform is not None and (
            not layers_to_transform or any(int(i) < 0 for i in layers_to_transform)
        ):
            raise ValueError(
                f"peft.layers_to_transform must be null or a non-empty list of block indices "
                f">= 0, got {layers_to_transform!r}."
            )
        self.name = name
        self.r = r
        self.lora_alpha = float(lora_alpha)
        self.target_modules = resolve_lora_targets(target_modules)
        self.lora_dropout = float(lora_dropout)
        self.train_head = bool(train_head)
        self.layers_to_transform = (
            None if layers_to_transform is None else [int(i) for i in layers_to_transform]
        )

    def lora_config(self):
        """The peft ``LoraConfig`` of this strategy (plain Python values, no task type)."""
        from peft import LoraConfig

        return LoraConfig(
            r=self.r,
            lora_alpha=self.lora_alpha,
            target_modules=list(self.target_modules),
            lora_dropout=self.lora_dropout,
            bias="none",
            layers_to_transform=self.layers_to_transform,
            layers_pattern="blocks" if self.layers_to_transform is not None else None,
        )

    def apply(self, model: nn.Module) -> nn.Module:
        from peft import get_peft_model

        try:
            peft_model = get_peft_model(model, self.lora_config())
        except ValueError as error:
            raise ValueError(
                f"peft={self.name}: could not place LoRA adapters on {self.target_modules} "
                f"(layers {self.layers_to_transform or 'all'}) in {type(model).__name__}: {error}"
            ) from error
        if self.train_head:
            for name, parameter in peft_model.named_parameters():
                if parameter_kind(name) == "head":
                    parameter.requires_grad_(True)
        return peft_model
