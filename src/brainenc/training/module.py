"""LightningModule training an encoding model (ViV1T) on per-mouse batches.

Batches are the dataset's dicts (``video (B,1,T,H,W)``, ``behavior (B,2,T)``,
``pupil_center (B,2,T)``, ``responses (B,N,T)``, ``mouse_id``), each from one mouse, or a mapping
``{mouse_id: batch}`` (several mice at once, whose losses are summed). The model returns
``(B, N, T')``, aligned to the last ``T'`` frames of the clip; the loss compares it with
``responses[..., -T':]``. Validation and test score the last ``T - max(T - T', skip)`` frames with
the streaming metrics of :mod:`brainenc.evaluation.streaming`: ``<stage>/corr`` (mean
single-trial correlation) and ``<stage>/corr_pooled`` per mouse (``<stage>/corr/<mouse_id>``) and
as the mean over mice. On the test split the trial-average baseline, when given, is scored through
the same metric objects under ``baseline/test/…``.

Under DDP each process scores its own share of the evaluation batches; the metric states are
sums reduced over the processes before the correlations are computed, so the scores equal a single
process's on the same weights. Training with several mice needs
:func:`brainenc.training.trainer_setup.data_parallel_strategy`.

Which weights train is decided by a fine-tuning strategy callback
(:mod:`brainenc.training.strategies`) at ``setup``; this module only builds the optimizer over
whatever is trainable then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

from brainenc.evaluation.metrics import crop_to_scored
from brainenc.evaluation.streaming import BaselineTable, CorrelationMetrics
from brainenc.runs.checkpoints import state_mismatch
from brainenc.training.optimization import configure_optimization


def mouse_batches(batch: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield ``(mouse_id, batch)`` pairs from a one-mouse batch or a ``{mouse_id: batch}`` map."""
    if "video" not in batch:
        for mouse_id, mouse_batch in batch.items():
            if mouse_batch is not None:
                yield str(mouse_id), mouse_batch
        return
    ids = batch["mouse_id"]
    ids = [ids] if isinstance(ids, str) else list(ids)
    if len(set(ids)) != 1:
        raise ValueError(
            f"a batch must hold samples of one mouse, got mouse ids {sorted(set(ids))}; "
            "use the BrainDataModule's per-mouse loaders."
        )
    yield ids[0], batch


class EncodingModule(pl.LightningModule):
    """Train, validate and test an encoding model.

    Parameters
    ----------
    model
        ``forward(video, mouse_id, behavior, pupil_center) -> (B, N, T')``.
    loss
        ``loss(predictions, targets, mouse_id=...) -> scalar`` (:mod:`brainenc.training.losses`).
    neurons
        Neurons per mouse id, for the per-mouse metrics.
    optimizer, scheduler
        Partials from the ``optim`` config (``scheduler`` may be None).
    scheduler_interval, scheduler_monitor
        ``"step"`` or ``"epoch"``, and the metric an epoch-wise scheduler reads.
    param_groups
        Per-group ``lr`` / ``weight_decay`` for the ``lora``, ``head`` and ``core`` groups.
    skip
        Frames left out at the start of each clip when scoring (at least the model's prediction
        offset ``T - T'``, 24 for ViV1T's default ``temporal_patch_size``, are).
    baseline
        Trial-average predictions scored on the test split beside the model, or None.
    initial_state
        A state dict for the model as wrapped by the strategy (LoRA keys included), loaded at
        ``setup`` after the strategy ran: how a LoRA run continues from an earlier one.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        neurons: Mapping[str, int],
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "step",
        scheduler_monitor: str | None = None,
        param_groups: Mapping[str, Mapping[str, float]] | None = None,
        skip: int = 24,
        baseline: BaselineTable | None = None,
        initial_state: Mapping[str, Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.loss = loss
        self.neurons = {str(k): int(v) for k, v in neurons.items()}
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.scheduler_monitor = scheduler_monitor
        self.param_group_overrides = dict(param_groups or {})
        self.skip = int(skip)
        self.baseline = baseline
        self.initial_state = initial_state
        self.strategy_name: str | None = None
        self.parameter_counts = None
        self.val_metrics = CorrelationMetrics(self.neurons)
        self.test_metrics = CorrelationMetrics(self.neurons)
        self.baseline_metrics = CorrelationMetrics(self.neurons)

    def forward(self, batch: Mapping[str, Any], mouse_id: str) -> Tensor:
        """Predicted responses ``(B, N, T')`` of one mouse's batch."""
        return self.model(
            batch["video"],
            mouse_id=mouse_id,
            behavior=batch["behavior"],
            pupil_center=batch["pupil_center"],
        )

    def setup(self, stage: str) -> None:
        if self.initial_state is None:
            return
        if self.strategy_name is None:
            raise RuntimeError(
                "EncodingModule: a continuation state was given but no fine-tuning strategy "
                "callback ran; add the peft strategy to the trainer's callbacks."
            )
        mismatch = state_mismatch(self.initial_state, self.model.state_dict())
        if mismatch:
            raise ValueError(
                "continue_from: the checkpoint does not fit this run's model and peft strategy "
                f"({mismatch}); continue a LoRA run with the same model and peft settings."
            )
        self.model.load_state_dict(self.initial_state)
        self.initial_state = None

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        total = None
        size = 0
        for mouse_id, mouse_batch in mouse_batches(batch):
            predictions = self(mouse_batch, mouse_id)
            targets = mouse_batch["responses"][..., -predictions.shape[-1] :]
            loss = self.loss(predictions, targets, mouse_id=mouse_id)
            total = loss if total is None else total + loss
            size += predictions.shape[0]
        if total is None:
            raise ValueError("training batch without any mouse's samples")
        if not torch.isfinite(total):
            raise FloatingPointError(
                f"training loss is {total.item()} (not finite) at epoch {self.current_epoch}, "
                f"batch {batch_idx}: stopping instead of training on. Lower optim.optimizer.lr, "
                "check the data for NaN, or use trainer.precision=32."
            )
        # train/loss: mean over the epoch (one row per epoch); train/loss_step: logged steps.
        self.log("train/loss", total, on_step=False, on_epoch=True, batch_size=size)
        self.log("train/loss_step", total, on_step=True, prog_bar=True, batch_size=size)
        return total

    def _score(self, batch: Mapping[str, Any], metrics: CorrelationMetrics, stage: str) -> None:
        for mouse_id, mouse_batch in mouse_batches(batch):
            predictions = self(mouse_batch, mouse_id)
            responses = mouse_batch["responses"]
            num_frames = responses.shape[-1]
            targets = responses[..., -predictions.shape[-1] :]
            loss = self.loss(predictions, targets, mouse_id=mouse_id)
            self.log(f"{stage}/loss", loss, batch_size=predictions.shape[0], sync_dist=True)
            # the model's prediction offset: its T' outputs are the clip's last T' frames
            offset = num_frames - predictions.shape[-1]
            scored_targets = crop_to_scored(responses, num_frames, self.skip, offset)
            metrics.update(
                mouse_id, crop_to_scored(predictions, num_frames, self.skip, offset), scored_targets
            )
            if stage == "test" and self.baseline is not None:
                guess = self.baseline.predict(mouse_id, mouse_batch).to(responses)
                self.baseline_metrics.update(
                    mouse_id, crop_to_scored(guess, num_frames, self.skip, offset), scored_targets
                )

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int, dataloader_idx: int = 0):
        self._score(batch, self.val_metrics, "val")

    def test_step(self, batch: Mapping[str, Any], batch_idx: int, dataloader_idx: int = 0):
        self._score(batch, self.test_metrics, "test")

    def _log_metrics(self, metrics: CorrelationMetrics, prefix: str) -> None:
        values = metrics.compute_and_reset()
        if values:
            # Already equal in every process (the metric states were summed over them); the
            # mean over processes only tells Lightning so.
            self.log_dict(values_with_prefix(values, prefix), sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics(self.val_metrics, "val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics(self.test_metrics, "test")
        if self.baseline is not None:
            self._log_metrics(self.baseline_metrics, "baseline/test")

    def configure_optimizers(self) -> dict[str, Any]:
        if self.strategy_name is None:
            raise RuntimeError(
                "EncodingModule: no fine-tuning strategy callback ran before the optimizer was "
                "built; add one of brainenc.training.strategies to the trainer's callbacks."
            )
        return configure_optimization(
            self.model,
            self.optimizer_factory,
            self.scheduler_factory,
            self.scheduler_interval,
            self.scheduler_monitor,
            self.trainer.estimated_stepping_batches,
            self.param_group_overrides,
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["brainenc"] = {"strategy": self.strategy_name, "neurons": dict(self.neurons)}


def values_with_prefix(values: Mapping[str, float], prefix: str) -> dict[str, float]:
    """``{"corr": v, "corr/A": w}`` → ``{"<prefix>/corr": v, "<prefix>/corr/A": w}``."""
    return {f"{prefix}/{name}": value for name, value in values.items()}
