"""Lightning callbacks of brainenc runs (besides the fine-tuning strategies).

* :class:`LearningRateLogger` logs ``lr-<Optimizer>`` (e.g. ``lr-AdamW``) every optimizer step,
  plus ``lr-<Optimizer>/<group>`` for each named parameter group when there are several.
* :class:`InterruptCheckpoint` writes a resumable ``interrupted.ckpt`` when training stops on
  SIGTERM (Lightning raises at the next batch boundary) or Ctrl-C; resume with
  ``ckpt_path=<run_dir>/checkpoints/interrupted.ckpt``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities.exceptions import SIGTERMException

from brainenc.training.console import announce


class LearningRateLogger(pl.Callback):
    """Log the learning rate used by optimizer steps (see module docstring).

    ``lr-<Optimizer>`` is the learning rate of the first parameter group (in the order lora,
    head, core). Values are written at the first batch of every epoch and every
    ``trainer.log_every_n_steps`` batches, so even short epochs have a row.
    """

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if not trainer.loggers or batch_idx % max(1, trainer.log_every_n_steps) != 0:
            return
        values: dict[str, float] = {"epoch": float(trainer.current_epoch)}
        for optimizer in trainer.optimizers:
            base = f"lr-{type(optimizer).__name__}"
            groups = optimizer.param_groups
            values[base] = float(groups[0]["lr"])
            if len(groups) > 1:
                for index, group in enumerate(groups):
                    values[f"{base}/{group.get('name', f'pg{index + 1}')}"] = float(group["lr"])
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_metrics(values, step=trainer.global_step)


class InterruptCheckpoint(pl.Callback):
    """Save a resumable checkpoint when fitting is stopped by SIGTERM or Ctrl-C.

    Parameters
    ----------
    dirpath
        Folder of the checkpoint (the run's ``checkpoints/``).
    filename
        File name, ``interrupted.ckpt`` by default.
    """

    def __init__(self, dirpath: str | Path, filename: str = "interrupted.ckpt") -> None:
        self.path = Path(dirpath) / filename

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, KeyboardInterrupt | SIGTERMException):
            return
        if trainer.state.fn != "fit" or trainer.global_step == 0:
            return
        trainer.save_checkpoint(self.path)
        announce(
            f"interrupted at epoch {trainer.current_epoch}, step "
            f"{trainer.global_step}; resume with ckpt_path={self.path}"
        )
