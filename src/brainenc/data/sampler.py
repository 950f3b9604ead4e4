"""Batches that each hold samples of a single mouse, interleaved across mice and split across ranks.

An epoch's batches are a function of ``(seed, epoch)`` only, so every process of a data-parallel
run builds the same list and takes its own share, and a resumed run can skip the batches it had
already trained on (``state_dict``).
"""

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
        Shuffle samples within each mouse; the order is drawn from ``(seed, epoch)``.
    mode
        "proportional": every batch of every mouse once per epoch, mice taking turns (A, B, C,
        A, B, C, ...) while they have batches left. "balanced": like ViV1T's cycler, every
        mouse contributes as many batches as the largest one, smaller mice starting over with a
        new order. "sequential": all batches of the first mouse, then the next (evaluation).
    drop_last
        Leave out each mouse's last, smaller batch.
    seed
        Seed of the shuffled orders; None takes ``torch.initial_seed()`` (the seed set by
        ``lightning.seed_everything``, the same in every process of a run).
    num_replicas, rank
        Number of data-parallel processes and this one's rank (0-based). Rank ``r`` takes
        batches ``r, r + W, r + 2W, ...`` of the epoch's list, so the ranks see disjoint shares.
    even_shares
        With several replicas: True (training) drops the last ``len % W`` batches of the epoch
        so that every rank takes as many steps (DDP needs that; the dropped batches change with
        the shuffled order every epoch). False (evaluation) keeps every batch once, ranks then
        differ by at most one batch, and no sample is repeated.

    Notes
    -----
    Call ``set_epoch`` before each epoch (Lightning does, through ``batch_sampler.sampler``).
    ``resume(epoch, batches)`` makes the next iteration continue that epoch after its first
    ``batches`` batches of this rank (:class:`brainenc.data.datamodule.MouseLoader` saves them).
    """

    def __init__(
        self,
        lengths: list[int],
        batch_size: int,
        shuffle: bool,
        mode: str = "proportional",
        drop_last: bool = False,
        seed: int | None = None,
        num_replicas: int = 1,
        rank: int = 0,
        even_shares: bool = True,
    ):
        if mode not in MODES:
            raise ValueError(f"train_mice_sampling must be one of {MODES}, got '{mode}'.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(
                f"MouseBatchSampler: rank must be in [0, num_replicas), got rank {rank} of "
                f"{num_replicas} replicas."
            )
        self.lengths = list(lengths)
        self.offsets = [sum(self.lengths[:i]) for i in range(len(self.lengths))]
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.mode = mode
        self.drop_last = drop_last
        self.seed = torch.initial_seed() if seed is None else int(seed)
        self.num_replicas = num_replicas
        self.rank = rank
        self.even_shares = even_shares
        self.epoch = 0
        self.skip = 0

    @property
    def sampler(self) -> MouseBatchSampler:
        """This sampler: where Lightning looks for ``set_epoch`` on a batch sampler."""
        return self

    def set_epoch(self, epoch: int) -> None:
        """Draw the next iteration's order for ``epoch`` (a pending resume position is kept)."""
        if epoch != self.epoch:
            self.epoch = epoch
            self.skip = 0

    def resume(self, epoch: int, batches: int) -> None:
        """Make the next iteration continue ``epoch`` after this rank's first ``batches``."""
        if not 0 <= batches <= len(self):
            raise ValueError(
                f"cannot resume after {batches} batches of an epoch of {len(self)} per rank: "
                "the checkpoint comes from a run with other data, batch size or process count."
            )
        self.epoch = int(epoch)
        self.skip = int(batches)

    def _batches_of(self, mouse: int) -> int:
        n = self.lengths[mouse]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def total_batches(self) -> int:
        """Batches of an epoch over all ranks (before the training remainder is dropped)."""
        counts = [self._batches_of(m) for m in range(len(self.lengths))]
        if self.mode == "balanced":
            return max(counts, default=0) * sum(c > 0 for c in counts)
        return sum(counts)

    def __len__(self) -> int:
        total, replicas = self.total_batches(), self.num_replicas
        if self.even_shares:
            return total // replicas
        return len(range(self.rank, total, replicas))

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.epoch_batches()
        if self.even_shares:
            batches = batches[: len(self) * self.num_replicas]
        skip, self.skip = self.skip, 0
        yield from batches[self.rank :: self.num_replicas][skip:]

    def epoch_batches(self) -> list[list[int]]:
        """Every batch of the current epoch, over all ranks, in the order they are dealt out."""
        generator = torch.Generator().manual_seed(self.seed + 1_000_003 * self.epoch)
        streams = [self._mouse_batches(m, generator) for m in range(len(self.lengths))]
        if self.mode == "sequential":
            return [batch for stream in streams for batch in stream]
        target = max((self._batches_of(m) for m in range(len(self.lengths))), default=0)
        given = [0] * len(streams)
        active = [m for m in range(len(streams)) if self._batches_of(m) > 0]
        batches = []
        while active:
            for mouse in list(active):
                batch = next(streams[mouse], None)
                if batch is None and self.mode == "balanced":
                    streams[mouse] = self._mouse_batches(mouse, generator)
                    batch = next(streams[mouse])
                if batch is not None:
                    batches.append(batch)
                    given[mouse] += 1
                limit = target if self.mode == "balanced" else self._batches_of(mouse)
                if given[mouse] >= limit:
                    active.remove(mouse)
        return batches

    def _mouse_batches(self, mouse: int, generator: torch.Generator) -> Iterator[list[int]]:
        n = self.lengths[mouse]
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        order = (order + self.offsets[mouse]).tolist()
        for begin in range(0, self._batches_of(mouse) * self.batch_size, self.batch_size):
            yield order[begin : begin + self.batch_size]
