"""Lightning callbacks of brainenc runs (besides the fine-tuning strategies).

* :class:`LearningRateLogger` logs ``lr-<Optimizer>`` (e.g. ``lr-AdamW``) every optimizer step,
  plus ``lr-<Optimizer>/<group>`` for each named parameter group when there are several.
* :class:`InterruptCheckpoint` writes a resumable ``interrupted.ckpt`` when training stops on
  SIGTERM (Lightning raises at the next batch boundary) or Ctrl-C; resume with
  ``ckpt_path=<run_dir>/checkpoints/interrupted.ckpt``. It also makes every checkpoint of the
  run resume exactly (RNG states, CSV history; the data loader saves its own position).

An interrupted run exits with a non-zero status, so job schedulers see it: SIGTERM ends the
process with :data:`SIGTERM_EXIT_CODE` (143, as a process killed by SIGTERM), Ctrl-C with 1
(Lightning's).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from brainenc.runs.folder import INTERRUPTED_CHECKPOINT
from brainenc.training.console import announce

SIGTERM_EXIT_CODE = 143


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

    Every checkpoint the trainer writes (this one, ``last.ckpt``, the best) also gets, under
    ``"resume"``: each process's torch, CUDA, NumPy and Python RNG states, restored just before
    the first training batch after a resume (dropout then draws the same masks as without the
    interruption), and the rows of ``csv/metrics.csv`` logged so far, which the resumed run
    writes again before its own (Lightning's CSV logger starts the file afresh).

    Parameters
    ----------
    dirpath
        Folder of the checkpoint (the run's ``checkpoints/``).
    filename
        File name, ``interrupted.ckpt`` by default.
    """

    def __init__(self, dirpath: str | Path, filename: str = INTERRUPTED_CHECKPOINT) -> None:
        self.path = Path(dirpath) / filename
        self.rng_to_restore: dict[str, Any] | None = None

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, KeyboardInterrupt | SIGTERMException):
            return
        if trainer.state.fn != "fit" or trainer.global_step == 0:
            return
        for logger in trainer.loggers:
            logger.save()
        trainer.save_checkpoint(self.path)
        announce(
            f"interrupted at epoch {trainer.current_epoch}, step "
            f"{trainer.global_step}; resume with ckpt_path={self.path}"
        )

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        history = {}
        if trainer.is_global_zero:
            history = {str(i): _csv_rows(lg) for i, lg in enumerate(trainer.loggers)}
        checkpoint["resume"] = {"rng": _all_ranks(_rng_states()), "history": history}

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        saved = checkpoint.get("resume")
        if saved is None or trainer.state.fn != "fit":  # testing a checkpoint resumes nothing
            return
        states = saved["rng"]
        self.rng_to_restore = (
            states[trainer.global_rank] if len(states) == trainer.world_size else None
        )
        if self.rng_to_restore is None:
            announce(
                f"resume: the checkpoint holds RNG states of {len(states)} processes, this run "
                f"has {trainer.world_size}; continuing with fresh random streams (not exact)."
            )
        for index, logger in enumerate(trainer.loggers if trainer.is_global_zero else []):
            rows = saved["history"].get(str(index))
            if rows and isinstance(logger, CSVLogger):
                logger.experiment.metrics[:0] = rows

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.rng_to_restore is not None:
            _set_rng_states(self.rng_to_restore)
            self.rng_to_restore = None


def _rng_states() -> dict[str, Any]:
    states = {
        "torch": torch.get_rng_state(),
        "numpy": _numpy_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _numpy_state() -> tuple:
    """NumPy's global RNG state in plain Python types (checkpoints load with weights_only)."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return kind, keys.tolist(), int(position), int(has_gauss), float(cached)


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    kind, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _all_ranks(value: Any) -> list[Any]:
    """``value`` of every process, by rank (collective: every process must call it)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return [value]
    gathered: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, value)
    return gathered


def _csv_rows(logger: Any) -> list[dict[str, Any]]:
    """The rows a CSV logger has written (as text) and still holds; [] for other loggers."""
    if not isinstance(logger, CSVLogger):
        return []
    writer = logger.experiment
    rows = []
    path = Path(writer.metrics_file_path)
    if path.is_file():
        with path.open(newline="") as file:
            rows = [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(file)]
    return rows + [dict(row) for row in writer.metrics]
