"""One rank of a 2-process CPU DDP check, started by `test_ddp.py` (and `benchmarks/ddp_cpu.py`).

``python ddp_worker.py <data root> <mice, comma-separated> <output folder>`` with the process
variables of Lightning's subprocess launcher (``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``). Writes ``rank<r>.pt`` with: ``val`` (the DDP validation results on the initial
weights), ``epoch`` (this rank's training batches of epoch 0, as dataset indices), ``first``
(the batch of the first step), ``rng`` (torch's RNG state as that step began: dropout and the
readouts' position sampling can be replayed) and ``grads`` (parameter name -> gradient after the
step's all-reduce, None where the parameter got none).
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import lightning.pytorch as pl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from training_helpers import build_model  # noqa: E402

from brainenc.data.datamodule import BrainDataModule  # noqa: E402
from brainenc.training.losses import MSELoss  # noqa: E402
from brainenc.training.module import EncodingModule  # noqa: E402
from brainenc.training.strategies import FromScratch  # noqa: E402
from brainenc.training.trainer_setup import data_parallel_strategy  # noqa: E402


def make_module(datamodule: BrainDataModule) -> EncodingModule:
    """The tiny test model (seed 0) over the data module's mice, MSE loss, SGD."""
    neurons = {m: spec.num_neurons for m, spec in datamodule.mice.items()}
    model = build_model("test", neurons, seed=0)
    return EncodingModule(
        model=model,
        loss=MSELoss(),
        neurons=neurons,
        optimizer=partial(torch.optim.SGD, lr=0.1),
    )


class CaptureStep(pl.Callback):
    """Keep the RNG state at the start of the step and the all-reduced gradients."""

    def __init__(self) -> None:
        self.rng = torch.get_rng_state()
        self.grads: dict[str, torch.Tensor | None] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.rng = torch.get_rng_state()

    def on_after_backward(self, trainer, pl_module):
        self.grads = {
            name: None if p.grad is None else p.grad.detach().clone()
            for name, p in pl_module.named_parameters()
            if p.requires_grad
        }


def main(root: str, mice: str, output: str) -> None:
    pl.seed_everything(0)
    datamodule = BrainDataModule(root, mouse_ids=mice.split(","), batch_size=4)
    datamodule.setup("fit")
    module = make_module(datamodule)
    capture = CaptureStep()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy=data_parallel_strategy("ddp", len(datamodule.mice)),
        max_steps=1,
        callbacks=[FromScratch(), capture],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        limit_val_batches=0,
    )
    val = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy=data_parallel_strategy("ddp", len(datamodule.mice)),
        callbacks=[FromScratch()],
        logger=False,
        use_distributed_sampler=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    ).validate(module, datamodule=datamodule, verbose=False)
    trainer.fit(module, datamodule=datamodule)
    loader = datamodule.train_dataloader()
    loader.batch_sampler.set_epoch(0)
    epoch = list(loader.batch_sampler)
    torch.save(
        {
            "val": val[0],
            "epoch": epoch,
            "first": epoch[0],
            "rng": capture.rng,
            "grads": capture.grads,
        },
        Path(output) / f"rank{trainer.global_rank}.pt",
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
