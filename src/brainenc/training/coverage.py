"""How much of the validation and test splits a run's scores cover.

A limited run (``debug=limit``, ``trainer.limit_val_batches`` / ``limit_test_batches``,
``fast_dev_run``) scores a few batches, possibly of one mouse only, and such a score can be far
from the full split's. :class:`ScoredSamples` counts the samples every scored epoch saw, and
:meth:`ScoredSamples.metrics` states them in ``metrics.json``:

* ``val/samples``, ``test/samples``: samples scored (the last validation epoch; the test);
* ``val/samples_total``, ``test/samples_total``: samples in the split (every mouse);
* ``partial``: only when a score covers part of its split, e.g.
  ``{"test/corr": "16 of 80 test samples; mice without any: B"}``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
import torch

from brainenc.training.module import mouse_batches

SPLIT_OF_STAGE = {"val": "validation", "test": "test"}


class ScoredSamples(pl.Callback):
    """Counts the samples of every mouse scored in the last validation epoch and in the test.

    Parameters
    ----------
    totals
        Split (``validation``, ``test``) -> mouse id -> number of samples in that split.
    """

    def __init__(self, totals: Mapping[str, Mapping[str, int]]) -> None:
        self.totals = {split: dict(per_mouse) for split, per_mouse in totals.items()}
        self.counts: dict[str, Counter[str]] = {}

    @classmethod
    def of(cls, datamodule: Any) -> ScoredSamples:
        """From a set-up datamodule's ``datasets`` (split -> mouse id -> dataset)."""
        return cls(
            {
                split: {m: len(d) for m, d in datamodule.datasets[split].items()}
                for split in SPLIT_OF_STAGE.values()
            }
        )

    def _count(self, stage: str, trainer: pl.Trainer, batch: Mapping[str, Any]) -> None:
        if trainer.sanity_checking:
            return
        for mouse_id, mouse_batch in mouse_batches(batch):
            self.counts[stage][mouse_id] += int(mouse_batch["responses"].shape[0])

    def _reduce(self, stage: str, trainer: pl.Trainer) -> None:
        """Sum the counts of every process (each scores its own share of the split)."""
        if trainer.sanity_checking or trainer.world_size == 1:
            return
        mice = sorted(self.totals[SPLIT_OF_STAGE[stage]])
        local = torch.tensor(
            [self.counts[stage][m] for m in mice], device=trainer.strategy.root_device
        )
        summed = trainer.strategy.reduce(local, reduce_op="sum")
        self.counts[stage] = Counter(dict(zip(mice, summed.tolist(), strict=True)))

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.counts["val"] = Counter()

    def on_validation_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, *_: int
    ) -> None:
        self._count("val", trainer, batch)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._reduce("val", trainer)

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.counts["test"] = Counter()

    def on_test_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, *_: int
    ) -> None:
        self._count("test", trainer, batch)

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._reduce("test", trainer)

    def metrics(self) -> dict[str, Any]:
        """The ``metrics.json`` entries of the stages that ran (see module docstring)."""
        metrics: dict[str, Any] = {}
        partial: dict[str, str] = {}
        for stage, counts in self.counts.items():
            split = SPLIT_OF_STAGE[stage]
            totals = self.totals[split]
            total = sum(totals.values())
            scored = min(sum(counts.values()), total)  # DDP may repeat samples to even out
            metrics[f"{stage}/samples"] = scored
            metrics[f"{stage}/samples_total"] = total
            if scored < total:
                unscored = [m for m in totals if counts[m] == 0]
                note = f"; mice without any: {', '.join(unscored)}" if unscored else ""
                partial[f"{stage}/corr"] = f"{scored} of {total} {split} samples{note}"
        if partial:
            metrics["partial"] = partial
        return metrics
