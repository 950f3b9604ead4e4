"""Data-parallel training on 2 CPU processes (gloo): shares, gradients and scores.

`ddp_worker.py` runs one rank each; the test compares what they wrote with one process: the
ranks cover the training epoch exactly once, the step's all-reduced gradients equal those of the
mean loss over the ranks' batches (for one mouse: the union batch), and the DDP validation
scores equal the single-process ones on the same weights.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from ddp_worker import make_module
from hydra.utils import instantiate
from training_helpers import compose_config

from brainenc.training.strategies import FromScratch

WORKER = Path(__file__).resolve().parent / "ddp_worker.py"


def run_ranks(root: Path, mice: list[str], output: Path) -> list[dict]:
    """Start the two ranks of `ddp_worker.py` and return what each wrote."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    output.mkdir(parents=True)
    base = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "WORLD_SIZE": "2",
        "NODE_RANK": "0",
        "OMP_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
    }
    command = [sys.executable, str(WORKER), str(root), ",".join(mice), str(output)]
    processes = [
        subprocess.Popen(
            command,
            env={**base, "LOCAL_RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(2)
    ]
    outputs = [p.communicate(timeout=240)[0] for p in processes]
    for process, text in zip(processes, outputs, strict=True):
        assert process.returncode == 0, text[-4000:]
    return [torch.load(output / f"rank{r}.pt", weights_only=False) for r in range(2)]


@pytest.fixture(scope="module")
def datamodule_of(insilico_cache, tmp_path_factory):
    """``datamodule_of(mice)``: the data module of in-silico mice A and B (built once), batch 4."""
    root = tmp_path_factory.mktemp("ddp_data")
    overrides = [
        "data=insilico_test",
        f"paths.dataset_dir={root}",
        f"data.build.cache_dir={insilico_cache}",
        "data.build.mice={A:[501729039],B:[501773889]}",
        "data.build.clip_frames=48",
        "data.build.normalisation=viv1t",
        "data.batch_size=4",
    ]
    instantiate(compose_config(overrides, root / "unused").data).prepare_data()

    def make(mice: list[str]):
        cfg = compose_config([*overrides, f"data.mouse_ids=[{','.join(mice)}]"], root / "unused")
        datamodule = instantiate(cfg.data)
        datamodule.setup("fit")
        return datamodule

    return make


def single_process_gradients(datamodule, ranks: list[dict]) -> dict:
    """Gradients of the mean loss over the ranks' first batches, each drawn from its rank's RNG."""
    module = make_module(datamodule)
    FromScratch().setup(None, module, "fit")
    dataset = datamodule.train_dataloader().dataset
    collate = torch.utils.data.default_collate
    losses = []
    for rank in ranks:
        samples = collate([dataset[i] for i in rank["first"]])
        torch.set_rng_state(rank["rng"])
        mouse_id = samples["mouse_id"][0]
        predictions = module(samples, mouse_id)
        targets = samples["responses"][..., -predictions.shape[-1] :]
        losses.append(module.loss(predictions, targets))
    torch.stack(losses).mean().backward()
    return {n: p.grad for n, p in module.named_parameters() if p.requires_grad}


def single_process_validation(datamodule) -> dict:
    module = make_module(datamodule)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        callbacks=[FromScratch()],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return trainer.validate(module, datamodule=datamodule, verbose=False)[0]


@pytest.mark.parametrize("mice", [["A"], ["A", "B"]], ids=["one_mouse", "two_mice"])
def test_two_process_ddp_matches_one_process(mice, datamodule_of, tmp_path):
    datamodule = datamodule_of(mice)
    ranks = run_ranks(datamodule.root, mice, tmp_path / "ranks")

    # Together the ranks cover the epoch once, in equal shares (the remainder is dropped).
    single = datamodule.train_dataloader().batch_sampler
    seen = [i for rank in ranks for batch in rank["epoch"] for i in batch]
    assert len(seen) == len(set(seen))
    assert len(ranks[0]["epoch"]) == len(ranks[1]["epoch"]) == len(single) // 2
    assert (
        len(set(seen))
        >= sum(datamodule.datasets["train"][m].__len__() for m in mice)
        - (len(single) % 2) * datamodule.batch_size
    )

    # The step's all-reduced gradients are those of the mean loss over the ranks' batches.
    expected = single_process_gradients(datamodule, ranks)
    for rank in ranks:
        for name, grad in rank["grads"].items():
            if expected[name] is None:
                assert grad is None or not grad.any(), name
            else:
                torch.testing.assert_close(grad, expected[name], rtol=1e-4, atol=1e-6)
    assert ranks[0]["grads"].keys() == expected.keys()

    # Validation: every sample once, correlations from summed statistics.
    reference = single_process_validation(datamodule)
    for rank in ranks:
        for key in ("val/corr", "val/corr_pooled", *(f"val/corr/{m}" for m in mice)):
            assert rank["val"][key] == pytest.approx(reference[key], abs=1e-6), key
