"""Data-parallel training on 2 CPU processes (gloo) against one process: steps, time, scores.

Trains the tiny test model (``model=tiny``, spatial stride 4) for one epoch on the in-silico
``test`` mice (48-frame clips, batch 4 per process, one thread per process) and prints, per case:
the training steps each process takes in the epoch, the epoch's wall time, the validation
``val/corr`` of the initial weights (the same checkpoint in every case: DDP must match one
process exactly) and after the epoch. The "find unused" cases measure what DDP's unused-parameter
detection costs, which brainenc turns on with several mice only (each step uses one mouse's head).

    .venv/bin/python benchmarks/ddp_cpu.py [--epochs 1]

The dataset is built once into outputs/benchmarks/ddp_data. Each case is a fresh set of
processes started like Lightning's launcher does (``LOCAL_RANK``, ``WORLD_SIZE``, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from brainenc.conf import CONFIG_DIR

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "outputs" / "benchmarks" / "ddp_data"
CASES = [  # name, mice, processes, find_unused_parameters
    ("1 process, mouse A", "A", 1, False),
    ("2 processes, mouse A", "A", 2, False),
    ("2 processes, mouse A, find unused", "A", 2, True),
    ("1 process, mice A+B", "A,B", 1, False),
    ("2 processes, mice A+B, find unused", "A,B", 2, True),
]


def compose_data(mice: str):
    from hydra import compose, initialize_config_dir

    overrides = [
        "data=insilico_test",
        f"paths.dataset_dir={DATA}",
        f"paths.allen_cache_dir={DATA / 'cache'}",
        "data.build.mice={A:[501729039],B:[501773889]}",
        "data.build.clip_frames=48",
        "data.build.normalisation=viv1t",
        "data.batch_size=4",
        f"data.mouse_ids=[{mice}]",
        "model=tiny",
        "model.core.spatial_patch_stride=4",
        "model.core.grad_checkpointing=false",
        "model.output_activation=softplus",
    ]
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        return compose("train", overrides=overrides)


def worker(mice: str, processes: int, find_unused: bool, epochs: int, output: str) -> None:
    """One process of a case: validate the initial weights, train, write the results (rank 0)."""
    from functools import partial

    import lightning.pytorch as pl
    import torch
    from hydra.utils import instantiate
    from lightning.pytorch.strategies import DDPStrategy

    from brainenc.training.losses import MSELoss
    from brainenc.training.module import EncodingModule
    from brainenc.training.strategies import FromScratch

    cfg = compose_data(mice)
    pl.seed_everything(0)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    mice_specs = datamodule.mice
    torch.manual_seed(0)
    module = EncodingModule(
        model=instantiate(cfg.model)(mice=mice_specs),
        loss=MSELoss(),
        neurons={m: spec.num_neurons for m, spec in mice_specs.items()},
        optimizer=partial(torch.optim.AdamW, lr=1e-3),
    )
    options = {
        "accelerator": "cpu",
        "devices": processes,
        "use_distributed_sampler": False,
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "enable_checkpointing": False,
    }

    def strategy() -> DDPStrategy | str:  # one per trainer: Lightning binds it to its trainer
        return DDPStrategy(find_unused_parameters=find_unused) if processes > 1 else "auto"

    initial = pl.Trainer(callbacks=[FromScratch()], strategy=strategy(), **options).validate(
        module, datamodule=datamodule, verbose=False
    )[0]["val/corr"]
    times: list[float] = []
    timer = pl.callbacks.LambdaCallback(
        on_train_epoch_start=lambda *_: times.append(time.perf_counter()),
        on_train_epoch_end=lambda *_: times.append(time.perf_counter()),
    )
    trainer = pl.Trainer(
        callbacks=[FromScratch(), timer],
        strategy=strategy(),
        max_epochs=epochs,
        num_sanity_val_steps=0,
        **options,
    )
    trainer.fit(module, datamodule=datamodule)
    if trainer.is_global_zero:
        result = {
            "steps": trainer.global_step / epochs,
            "seconds": (sum(times[1::2]) - sum(times[0::2])) / epochs,
            "initial": float(initial),
            "trained": float(trainer.callback_metrics["val/corr"]),
        }
        Path(output).write_text(json.dumps(result))


def run_case(mice: str, processes: int, find_unused: bool, epochs: int) -> dict[str, float]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "result.json"
        command = [
            sys.executable,
            __file__,
            "--worker",
            json.dumps([mice, processes, find_unused, epochs, str(output)]),
        ]
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "PYTHONWARNINGS": "ignore",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "WORLD_SIZE": str(processes),
            "NODE_RANK": "0",
        }
        ranks = [
            subprocess.Popen(
                command,
                env={**env, "LOCAL_RANK": str(rank)} if processes > 1 else env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=ROOT,
            )
            for rank in range(processes)
        ]
        for rank in ranks:
            text = rank.communicate()[0]
            if rank.returncode != 0:
                raise RuntimeError(f"case {mice}/{processes} failed:\n{text[-3000:]}")
        return json.loads(output.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*json.loads(args.worker))
        return
    from hydra.utils import instantiate

    instantiate(compose_data("A,B").data).prepare_data()
    print(f"2-process CPU DDP (gloo) against 1 process, {args.epochs} epoch(s), batch 4/process")
    print(
        "| case | steps per process | epoch s (incl. val) | s per step | val/corr initial | after |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, mice, processes, find_unused in CASES:
        r = run_case(mice, processes, find_unused, args.epochs)
        print(
            f"| {name} | {r['steps']:.0f} | {r['seconds']:.1f} | {r['seconds'] / r['steps']:.3f}"
            f" | {r['initial']:.6f} | {r['trained']:.6f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
