"""Trial-average baseline predictions served to the LightningModule during testing.

Each test sample is predicted by the mean response over the training repeats of its clip
(:func:`brainenc.evaluation.baseline.clip_trial_average`), and scored in ``test_step`` by the same
streaming metrics and on the same frames as the model (``baseline/test/corr``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from brainenc.evaluation.baseline import clip_trial_average
from brainenc.evaluation.mouse_folder import MouseFolder


class BaselineTable:
    """Trial averages ``(N, T)`` per mouse and ``(movie, clip)``.

    Parameters
    ----------
    averages
        ``{mouse_id: {(movie, clip): (N, T) tensor}}``.
    """

    def __init__(self, averages: Mapping[str, Mapping[tuple[str, int], Tensor]]) -> None:
        self.averages = {m: dict(clips) for m, clips in averages.items()}

    @classmethod
    def from_folders(
        cls, folders: Mapping[str, str | Path], split: str = "test", reference_split: str = "train"
    ) -> BaselineTable | None:
        """Average the ``reference_split`` repeats of every clip of ``split`` for each mouse.

        Returns None when some scored clip has no reference repeat (the baseline cannot predict
        clips unseen in training, e.g. with splits by clip).
        """
        averages: dict[str, dict[tuple[str, int], Tensor]] = {}
        for mouse_id, path in folders.items():
            mouse = MouseFolder(path)
            keys = mouse.clip_keys(mouse.select(split=split))
            if any(mouse.select(reference_split, movie, clip).size == 0 for movie, clip in keys):
                return None
            averages[mouse_id] = {
                key: torch.from_numpy(
                    clip_trial_average(mouse, *key, split=reference_split)
                ).float()
                for key in keys
            }
        return cls(averages)

    def predict(self, mouse_id: str, batch: Mapping[str, Any]) -> Tensor:
        """Trial averages ``(B, N, T)`` for the samples of a batch (uses its ``movie`` and ``clip``)."""
        movies = batch["movie"]
        movies = [movies] if isinstance(movies, str) else list(movies)
        clips = torch.as_tensor(batch["clip"]).reshape(-1).tolist()
        table = self.averages.get(mouse_id)
        if table is None:
            raise KeyError(f"baseline: no trial averages for mouse {mouse_id!r}")
        missing = [(m, c) for m, c in zip(movies, clips, strict=True) if (m, c) not in table]
        if missing:
            raise KeyError(f"baseline: mouse {mouse_id!r} has no trial average for clips {missing}")
        return torch.stack([table[(m, c)] for m, c in zip(movies, clips, strict=True)])
