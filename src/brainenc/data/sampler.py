"""Batches that each hold samples of a single mouse, interleaved across mice."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

MODES = ("proportional", "balanced", "sequential")


class MouseBatchSampler(Sampler[list[int]]):
    """Batch sampler over a `ConcatDataset` of mice; every batch comes from one mouse.

    Parameters
    ----------
    lengths
        Number of samples of each mouse, in `ConcatDataset` order.
    batch_size
        Samples per batch (the last batch of a mouse may be smaller unless `drop_last`).
    shuffle
        Shuffle samples within each mouse every epoch (from torch's global RNG, so
        `lightning.seed_everything` makes it reproducible).
    mode
        "proportional": every batch of every mouse once per epoch, mice taking turns (A, B, C,
        A, B, C, ...) while they have batches left. "balanced": like ViV1T's cycler, every
        mouse contributes as many batches as the largest one, smaller mice starting over with a
        new order. "sequential": all batches of the first mouse, then the next (evaluation).
    """

    def __init__(
        self,
        lengths: list[int],
        batch_size: int,
        shuffle: bool,
        mode: str = "proportional",
        drop_last: bool = False,
    ):
        if mode not in MODES:
            raise ValueError(f"train_mice_sampling must be one of {MODES}, got '{mode}'.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        self.lengths = list(lengths)
        self.offsets = [sum(self.lengths[:i]) for i in range(len(self.lengths))]
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.mode = mode
        self.drop_last = drop_last

    def _batches_of(self, mouse: int) -> int:
        n = self.lengths[mouse]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __len__(self) -> int:
        counts = [self._batches_of(m) for m in range(len(self.lengths))]
        if self.mode == "balanced":
            return max(counts, default=0) * sum(c > 0 for c in counts)
        return sum(counts)

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator()
        generator.manual_seed(int(torch.empty((), dtype=torch.int64).random_().item()))
        streams = [self._mouse_batches(m, generator) for m in range(len(self.lengths))]
        if self.mode == "sequential":
            for stream in streams:
                yield from stream
            return
        target = max((self._batches_of(m) for m in range(len(self.lengths))), default=0)
        given = [0] * len(streams)
        active = [m for m in range(len(streams)) if self._batches_of(m) > 0]
        while active:
            for mouse in list(active):
                batch = next(streams[mouse], None)
                if batch is None and self.mode == "balanced":
                    streams[mouse] = self._mouse_batches(mouse, generator)
                    batch = next(streams[mouse])
                if batch is not None:
                    yield batch
                    given[mouse] += 1
                limit = target if self.mode == "balanced" else self._batches_of(mouse)
                if given[mouse] >= limit:
                    active.remove(mouse)

    def _mouse_batches(self, mouse: int, generator: torch.Generator) -> Iterator[list[int]]:
        n = self.lengths[mouse]
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        order = (order + self.offsets[mouse]).tolist()
        for begin in range(0, self._batches_of(mouse) * self.batch_size, self.batch_size):
            yield order[begin : begin + self.batch_size]
