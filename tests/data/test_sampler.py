from __future__ import annotations

import pytest
import torch
from torch.utils.data import ConcatDataset, TensorDataset

from brainenc.data.datamodule import MouseLoader
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


def test_sequential_keeps_order_and_the_shuffle_follows_seed_and_epoch():
    batches = list(MouseBatchSampler(LENGTHS, batch_size=5, shuffle=False, mode="sequential"))
    assert batches == [
        [0, 1, 2, 3, 4],
        [5, 6],
        [7, 8, 9],
        [10, 11, 12, 13, 14],
        [15, 16, 17, 18, 19],
        [20, 21],
    ]
    shuffled = MouseBatchSampler(LENGTHS, batch_size=2, shuffle=True, seed=3)
    first = list(shuffled)
    assert list(shuffled) == first == list(MouseBatchSampler(LENGTHS, 2, True, seed=3))
    shuffled.set_epoch(1)
    assert list(shuffled) != first
    assert list(MouseBatchSampler(LENGTHS, 2, True, seed=4)) != first
    torch.manual_seed(3)
    assert list(MouseBatchSampler(LENGTHS, 2, True)) == first  # seed_everything's seed


@pytest.mark.parametrize("mode", ["proportional", "balanced"])
@pytest.mark.parametrize("world", [2, 3, 5])
def test_ranks_share_a_training_epoch_in_equal_disjoint_parts(mode, world):
    whole = MouseBatchSampler(LENGTHS, 2, True, mode, seed=0)
    whole.set_epoch(2)
    ranks = [
        MouseBatchSampler(LENGTHS, 2, True, mode, seed=0, num_replicas=world, rank=r)
        for r in range(world)
    ]
    for sampler in ranks:
        sampler.set_epoch(2)
    shares = [list(sampler) for sampler in ranks]
    assert {len(share) for share in shares} == {len(whole) // world} == {len(ranks[0])}
    dealt = [batch for step in zip(*shares, strict=True) for batch in step]
    assert dealt == list(whole)[: len(dealt)]  # the single-process epoch, remainder dropped
    assert len(whole) - len(dealt) < world
    if mode == "proportional":
        seen = [i for batch in dealt for i in batch]
        assert len(seen) == len(set(seen))


@pytest.mark.parametrize("world", [2, 4, 7])
def test_evaluation_shares_cover_every_sample_once(world):
    shares = [
        list(
            MouseBatchSampler(
                LENGTHS, 5, False, "sequential", num_replicas=world, rank=r, even_shares=False
            )
        )
        for r in range(world)
    ]
    seen = sorted(i for share in shares for batch in share for i in batch)
    assert seen == list(range(sum(LENGTHS)))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


@pytest.mark.parametrize("workers", [0, 2], ids=["no_workers", "2_workers"])
def test_a_resumed_loader_continues_after_the_batches_it_delivered(workers):
    dataset = ConcatDataset([TensorDataset(torch.arange(n)) for n in LENGTHS])

    def loader() -> MouseLoader:
        sampler = MouseBatchSampler(LENGTHS, 2, True, seed=0, num_replicas=2, rank=1)
        return MouseLoader(dataset, sampler, {"num_workers": workers})

    whole = loader()
    whole.batch_sampler.set_epoch(1)
    expected = [batch[0].tolist() for batch in whole]
    interrupted = loader()
    interrupted.batch_sampler.set_epoch(1)
    iterator = iter(interrupted)
    done = [next(iterator)[0].tolist() for _ in range(2)]
    state = interrupted.state_dict()
    assert state == {"epoch": 1, "batches": 2, "num_replicas": 2}
    resumed = loader()
    resumed.load_state_dict(state)
    resumed.batch_sampler.set_epoch(1)  # Lightning sets the epoch again: the position stays
    assert done + [batch[0].tolist() for batch in resumed] == expected
    resumed.batch_sampler.set_epoch(2)
    assert len(list(resumed)) == len(resumed)


def test_a_loader_saved_at_the_end_of_an_epoch_starts_the_next():
    dataset = ConcatDataset([TensorDataset(torch.arange(n)) for n in LENGTHS])
    sampler = MouseBatchSampler(LENGTHS, 2, True, seed=0)
    loader = MouseLoader(dataset, sampler, {"num_workers": 0})
    loader.load_state_dict({"epoch": 4, "batches": len(sampler), "num_replicas": 1})
    assert (sampler.epoch, sampler.skip) == (5, 0)
    with pytest.raises(ValueError, match="same trainer.devices"):
        loader.load_state_dict({"epoch": 4, "batches": 1, "num_replicas": 2})


def test_bad_settings():
    with pytest.raises(ValueError, match="train_mice_sampling must be one of"):
        MouseBatchSampler(LENGTHS, 1, True, mode="random")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        MouseBatchSampler(LENGTHS, 0, True)
    with pytest.raises(ValueError, match="rank must be in"):
        MouseBatchSampler(LENGTHS, 1, True, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="cannot resume after 99 batches"):
        MouseBatchSampler(LENGTHS, 2, True).resume(0, 99)
