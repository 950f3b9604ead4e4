"""What a run prints: its messages, progress and model summary, and none of the third-party noise.

Run messages are INFO records of the ``brainenc`` logger, from the rank-zero process only; under
``python train.py`` Hydra sends them to the console and to ``<run_dir>/<job name>.log``.
:func:`quiet_third_party` drops deprecation warnings of other packages' internals, Lightning's
advertising tip and its device lines when a second trainer repeats them.
:func:`progress_bar` draws tqdm bars on a terminal and plain lines when output goes to a file.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelSummary, ProgressBar, TQDMProgressBar
from lightning.pytorch.utilities.rank_zero import rank_zero_only

log = logging.getLogger("brainenc.training")

# Lightning's own pytree helper still uses torch's deprecated LeafSpec (lightning 2.6).
THIRD_PARTY_WARNINGS = (r".*isinstance\(treespec, LeafSpec\)` is deprecated",)
LIGHTNING_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
)
DEVICE_LINES = ("GPU available:", "TPU available:", "HPU available:")
SUMMARY_SKIPPED = "Trainer already configured with model summary callbacks"
EPOCH_METRICS = ("train/loss", "val/corr")


@rank_zero_only
def announce(message: str) -> None:
    """Log ``message`` once per run (from rank zero)."""
    log.info(message)


class _LightningNoise(logging.Filter):
    """Drops Lightning's litlogger tips and its note on our summary callback, and its device
    lines once they have been shown."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Tip: For seamless cloud" in message or message.startswith(SUMMARY_SKIPPED):
            return False
        if message.startswith(DEVICE_LINES):
            if message in self.seen:
                return False
            self.seen.add(message)
        return True


_NOISE = _LightningNoise()


def quiet_third_party() -> None:
    """Install the filters of the module docstring (idempotent)."""
    for pattern in THIRD_PARTY_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if _NOISE not in logger.filters:
            logger.addFilter(_NOISE)


class LineProgressBar(ProgressBar):
    """Progress for log files: plain lines, no carriage returns or cursor codes.

    One line per training epoch (its time, the progress-bar metrics and :data:`EPOCH_METRICS`), and one
    at most every ``interval_s`` seconds within a long epoch.
    """

    def __init__(self, interval_s: float = 60.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._enabled = True
        self._epoch_start = self._last_line = 0.0
        self._batches = 0

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> str:
        values = {**self.get_metrics(trainer, pl_module)}
        for name in EPOCH_METRICS:
            if name in trainer.callback_metrics:
                values[name] = float(trainer.callback_metrics[name])
        values.pop("v_num", None)
        shown = [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()]
        return ", ".join(shown)

    def _line(self, message: str) -> None:
        if self._enabled:
            print(message, file=sys.stderr, flush=True)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = self._last_line = time.monotonic()
        self._batches = 0

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._batches = batch_idx + 1
        now = time.monotonic()
        if now - self._last_line >= self.interval_s:
            self._last_line = now
            self._line(
                f"epoch {trainer.current_epoch}: batch {self._batches}/"
                f"{self.total_train_batches}, {self._metrics(trainer, pl_module)}"
            )

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seconds = time.monotonic() - self._epoch_start
        self._line(
            f"epoch {trainer.current_epoch} done: {self._batches} batches in "
            f"{seconds:.0f} s, {self._metrics(trainer, pl_module)}"
        )


def progress_bar(refresh_rate: int = 10, interval_s: float = 60.0) -> ProgressBar:
    """tqdm bars (updated every ``refresh_rate`` batches) when stderr is a terminal, else a
    :class:`LineProgressBar` (a line per epoch, at most one per ``interval_s`` within it);
    ``refresh_rate=0`` shows no progress."""
    if sys.stderr.isatty() or refresh_rate == 0:
        return TQDMProgressBar(refresh_rate=refresh_rate)
    return LineProgressBar(interval_s)


class ModuleSummary(ModelSummary):
    """Lightning's table of the module's parts without its FLOPs column and total, which need an
    example input and print 0 (:mod:`brainenc.models.flops` counts FLOPs from the shapes).
    Trainable parameters by part are printed by the peft strategy."""

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        **_: Any,
    ) -> None:
        columns = [(name, values) for name, values in summary_data if name != "FLOPs"]
        widths = [max([len(name), *(len(str(v)) for v in values)]) for name, values in columns]
        rows = zip(*(values for _, values in columns), strict=True)
        lines = [
            " | ".join(name.ljust(width) for (name, _), width in zip(columns, widths, strict=True)),
            *(
                " | ".join(str(v).ljust(width) for v, width in zip(row, widths, strict=True))
                for row in rows
            ),
            f"{total_parameters:,} parameters ({model_size:.1f} MB), {trainable_parameters:,} "
            f"trainable; {total_training_modes['train']} modules in train mode, "
            f"{total_training_modes['eval']} in eval mode",
        ]
        log.info("model summary:\n" + "\n".join(lines))
