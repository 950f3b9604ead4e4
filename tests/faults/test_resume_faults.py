"""A run stopped by SIGTERM and resumed ends exactly where the uninterrupted run ends.

The interruption is a real SIGTERM sent to this process in the middle of epoch 1 (Lightning's
handler then stops at the batch boundary): the run exits with status 143 and leaves
``interrupted.ckpt``; resuming from it gives the same validation and test scores, the same
weights and a ``csv/metrics.csv`` that still holds the rows of before the interruption.
"""

from __future__ import annotations

import csv
import os
import signal
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from training_helpers import compose_config as compose_run

from brainenc.training import train
from brainenc.training.callbacks import SIGTERM_EXIT_CODE

STOP_AT_STEP = 4  # epoch 1, after its first batch (3 batches per epoch)


class SigtermAt(pl.Callback):
    """Send SIGTERM to this process after the training batch that reaches ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.fixture
def overrides(insilico_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.getbasetemp() / "resume_data"
    return [
        "data=insilico_test",
        f"paths.root_dir={root}",
        f"paths.dataset_dir={root / 'datasets'}",
        f"data.build.cache_dir={insilico_cache}",
        "data.build.mice={A:[501729039]}",
        "data.build.clip_frames=48",
        "data.build.normalisation=viv1t",
        "data.mouse_ids=[A]",
        "data.batch_size=4",
        "model=tiny",
        "model.core.spatial_patch_stride=4",
        "model.output_activation=softplus",
        "peft=none",
        "trainer=cpu",
        "trainer.max_epochs=2",
        "+trainer.limit_train_batches=3",
        "+trainer.limit_val_batches=2",
        "logger=csv",
        "callbacks.progress_bar.refresh_rate=0",
        "trainer.enable_model_summary=false",
        "evaluation.initial=false",
        "evaluation.baseline=false",
        "evaluation.references=false",
        "export.merged=false",
    ]


def metric_rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "csv" / "metrics.csv").open(newline="") as file:
        return list(csv.DictReader(file))


def validation_scores(rows: list[dict[str, str]]) -> list[float]:
    return [float(row["val/corr"]) for row in rows if row.get("val/corr")]


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def test_interrupted_run_resumes_exactly(overrides, tmp_path):
    reference, _ = train(compose_run(overrides, tmp_path / "whole"))

    run_dir = tmp_path / "interrupted"
    with pytest.raises(SystemExit) as stop:
        train(
            compose_run(
                [
                    *overrides,
                    f"+callbacks.sigterm._target_={__name__}.SigtermAt",
                    f"+callbacks.sigterm.step={STOP_AT_STEP}",
                ],
                run_dir,
            )
        )
    assert stop.value.code == SIGTERM_EXIT_CODE
    checkpoint = run_dir / "checkpoints" / "interrupted.ckpt"
    assert torch.load(checkpoint, weights_only=True)["global_step"] == STOP_AT_STEP
    before = validation_scores(metric_rows(run_dir))
    assert len(before) == 1  # epoch 0's

    resumed, _ = train(compose_run([*overrides, f"ckpt_path={checkpoint}"], run_dir))
    assert resumed["val/corr"] == pytest.approx(reference["val/corr"], abs=1e-7)
    whole, again = final_weights(tmp_path / "whole"), final_weights(run_dir)
    for name, value in whole.items():
        torch.testing.assert_close(again[name], value, rtol=0, atol=1e-6, msg=name)
    assert resumed["test/corr"] == pytest.approx(reference["test/corr"], abs=1e-7)
    rows, whole_rows = metric_rows(run_dir), metric_rows(tmp_path / "whole")
    scores = validation_scores(rows)
    assert scores[0] == before[0]
    assert scores == pytest.approx(validation_scores(whole_rows), abs=1e-7)
    assert len(rows) == len(whole_rows)  # no row lost, none written twice
