from __future__ import annotations

import pytest
import torch

from brainenc.data.sampler import MouseBatchSampler

LENGTHS = [7, 3, 12]  # mice A, B, C in ConcatDataset order
OFFSETS = [0, 7, 10]


def mouse_of(index: int) -> int:
    return max(m for m, offset in enumerate(OFFSETS) if index >= offset)


def test_proportional_interleaves_and_covers_every_sample_once():
    torch.manual_seed(0)
    sampler = MouseBatchSampler(LENGTHS, batch_size=2, shuffle=True, mode="proportional")
    batches = list(sampler)
    assert len(batches) == len(sampler) == 4 + 2 + 6
    assert all(len({mouse_of(i) for i in batch}) == 1 for batch in batches)
    assert sorted(i for batch in batches for i in batch) == list(range(22))
    assert [mouse_of(b[0]) for b in batches[:6]] == [0, 1, 2, 0, 1, 2]


def test_balanced_gives_every_mouse_as_many_batches_as_the_largest():
    torch.manual_seed(0)
    sampler = MouseBatchSampler(LENGTHS, batch_size=2, shuffle=True, mode="balanced")
    batches = list(sampler)
    per_mouse = [sum(mouse_of(b[0]) == m for b in batches) for m in range(3)]
    assert per_mouse == [6, 6, 6] and len(sampler) == 18
    assert all(len({mouse_of(i) for i in batch}) == 1 for batch in batches)


def test_sequential_keeps_order_and_reshuffle_follows_the_global_seed():
    batches = list(MouseBatchSampler(LENGTHS, batch_size=5, shuffle=False, mode="sequential"))
    assert batches == [
        [0, 1, 2, 3, 4],
        [5, 6],
        [7, 8, 9],
        [10, 11, 12, 13, 14],
        [15, 16, 17, 18, 19],
        [20, 21],
    ]
    shuffled = MouseBatchSampler(LENGTHS, batch_size=2, shuffle=True)
    torch.manual_seed(3)
    first = list(shuffled)
    torch.manual_seed(3)
    assert list(shuffled) == first
    assert list(shuffled) != first


def test_bad_settings():
    with pytest.raises(ValueError, match="train_mice_sampling must be one of"):
        MouseBatchSampler(LENGTHS, 1, True, mode="random")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        MouseBatchSampler(LENGTHS, 0, True)
