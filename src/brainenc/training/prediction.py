"""Predictions of a finished run on one dataset split, for ``python -m brainenc.evaluate``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from brainenc.runs.artifacts import load_trained_model


@torch.no_grad()
def predict_split(
    run_dir: str | Path, split: str = "test", batch_size: int = 4
) -> dict[str, np.ndarray]:
    """Predict every sample of ``split`` with the run's selected (LoRA-merged) model.

    Returns
    -------
    dict
        One ``(S, N, T - 24)`` float32 array per mouse id, samples in ascending sample index
        (the order :func:`brainenc.evaluation.predictions.evaluate_predictions` expects).
    """
    model, datamodule = load_trained_model(run_dir)
    if split not in datamodule.datasets:
        raise ValueError(f"split {split!r} is not served; valid: {', '.join(datamodule.datasets)}")
    predictions = {}
    for mouse_id, dataset in datamodule.datasets[split].items():
        chunks = []
        for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            output = model(batch["video"], mouse_id, batch["behavior"], batch["pupil_center"])
            chunks.append(output.float().numpy())
        predictions[mouse_id] = np.concatenate(chunks)
    return predictions
