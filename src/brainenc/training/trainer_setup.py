"""The run's Lightning ``Trainer``: its settings (the ``trainer`` group) checked, then built.

:func:`check_trainer_settings` and :func:`check_distributed` raise ``ValueError`` naming the
setting; the config check calls them before any build. :func:`build_trainer` resolves the
precision, adapts the DDP strategy to one mouse per batch (:func:`data_parallel_strategy`),
attaches the loggers and writes checkpoints atomically.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelSummary
from lightning.pytorch.strategies import DDPStrategy, Strategy
from omegaconf import DictConfig, OmegaConf

from brainenc.runs.checkpoints import AtomicCheckpointIO
from brainenc.training.loggers import instantiate_named
from brainenc.training.precision import resolve_precision


def check_trainer_settings(trainer: Any) -> None:
    """Precision, epochs, accumulation and the DDP sampler of the ``trainer`` node."""
    resolve_precision(trainer.get("precision", "auto"), str(trainer.get("accelerator", "auto")))
    max_epochs = trainer.get("max_epochs")
    max_steps = trainer.get("max_steps", -1)
    if not (
        (isinstance(max_epochs, int) and max_epochs >= 1)
        or (max_epochs in (None, -1) and max_steps > 0)
    ):
        raise ValueError(
            "trainer.max_epochs must be an integer >= 1 (or -1 with trainer.max_steps), "
            f"got {max_epochs!r}."
        )
    accumulate = trainer.get("accumulate_grad_batches", 1)
    if not (isinstance(accumulate, int) and accumulate >= 1):
        raise ValueError(
            f"trainer.accumulate_grad_batches must be an integer >= 1, got {accumulate!r}."
        )
    if str(trainer.get("strategy", "auto")).startswith("ddp") and trainer.get(
        "use_distributed_sampler", True
    ):
        raise ValueError(
            f"trainer.strategy={trainer.get('strategy')} needs trainer.use_distributed_sampler="
            "false: brainenc's MouseBatchSampler deals one-mouse batches out to the processes "
            "itself, and Lightning's DistributedSampler cannot replace it (trainer=ddp sets this)."
        )


def check_distributed(trainer: Any) -> None:
    """Refuse several DDP processes inside a local Hydra multirun (Lightning re-launches the
    script for each process, and local sweeps then collide)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    devices = trainer.get("devices", 1)
    multi_process = str(trainer.get("strategy", "")).startswith("ddp") and devices not in (1, "1")
    local = "BasicLauncher" in str(hydra_cfg.launcher.get("_target_", ""))
    if multi_process and local and hydra_cfg.mode == RunMode.MULTIRUN:
        raise ValueError(
            "trainer=ddp cannot run inside a local multirun (-m / hparams_search): Lightning "
            "re-launches the script for each process. Sweep with hydra/launcher=slurm, or run "
            "the DDP jobs one at a time."
        )


def data_parallel_strategy(strategy: str | Strategy, num_mice: int) -> str | Strategy:
    """The trainer's ``strategy``, made to cope with one mouse per batch under DDP.

    With several mice a step of each process uses the shifter and readout of its batch's mouse
    only, and the processes may hold different mice. ``"ddp"`` then becomes DDP with
    ``find_unused_parameters``: a head unused by one process gets its all-reduced gradient
    (the mean over processes, zero where absent), a head unused by all keeps ``grad=None`` (the
    optimizer skips it, as in a single process). One mouse needs no detection and keeps ``"ddp"``.
    """
    if strategy == "ddp" and num_mice > 1:
        return DDPStrategy(find_unused_parameters=True)
    return strategy


def build_trainer(cfg: DictConfig, callbacks: list[pl.Callback], num_mice: int) -> pl.Trainer:
    """The ``Trainer`` of ``cfg.trainer`` with ``callbacks``, the ``logger`` group's loggers (each
    given the resolved config) and atomic checkpoint writes."""
    loggers = instantiate_named(cfg.get("logger"), "logger")
    precision = resolve_precision(
        cfg.trainer.get("precision", "auto"), str(cfg.trainer.accelerator)
    )
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for logger in loggers:
        logger.log_hyperparams(resolved)
    strategy = data_parallel_strategy(cfg.trainer.get("strategy", "auto"), num_mice)
    if cfg.trainer.get("enable_model_summary") is False:
        callbacks = [c for c in callbacks if not isinstance(c, ModelSummary)]
    return instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        precision=precision,
        strategy=strategy,
        plugins=[AtomicCheckpointIO()],
    )
