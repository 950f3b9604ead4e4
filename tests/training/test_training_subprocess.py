"""``python train.py`` as users run it: multirun sweeps and DDP on two CPU processes (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from training_helpers import CONF_DIR

REPO = CONF_DIR.parent


def run_train(arguments: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", "PYTHONWARNINGS": "ignore"}
    env.pop("WANDB_API_KEY", None)
    env.pop("WANDB_MODE", None)
    done = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"train.py failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return done


def quick(run_overrides: list[str]) -> list[str]:
    return [*run_overrides, "peft=none", "+trainer.limit_train_batches=2", "trainer.max_epochs=1"]


@pytest.mark.slow
def test_two_point_multirun_writes_two_complete_run_folders(run_overrides, tmp_path):
    sweep_dir = tmp_path / "sweep"
    run_train(
        [
            "-m",
            *quick(run_overrides),
            "optim.optimizer.lr=1e-3,3e-3",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        cwd=tmp_path,
    )
    runs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [p.name[:2] for p in runs] == ["0_", "1_"]
    assert all(len(p.name) <= 102 and "/" not in p.name[2:] for p in runs)  # many overrides: cut
    for run, lr in zip(runs, (1e-3, 3e-3), strict=True):
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["checkpoint"] == "checkpoints/best.ckpt" and "test/corr" in metrics
        for name in (
            "config_resolved.yaml",
            "provenance.json",
            "trainable.json",
            ".hydra/overrides.yaml",
        ):
            assert (run / name).is_file(), name
        assert f"lr: {lr}" in (run / "config_resolved.yaml").read_text()


@pytest.mark.slow
def test_optuna_sweep_maximises_validation_correlation(run_overrides, core_checkpoint, tmp_path):
    sweep_dir = tmp_path / "optuna"
    run_train(
        [
            *run_overrides,
            "+trainer.limit_train_batches=2",
            "trainer.max_epochs=1",
            f"pretrained.path={core_checkpoint}",
            "hparams_search=lora_optuna",
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.sampler.n_startup_trials=2",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        cwd=tmp_path,
    )
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert {"peft", "optim", "optim.optimizer.lr"} <= set(results["best_params"])
    jobs = [p for p in sweep_dir.iterdir() if (p / "metrics.json").is_file()]
    best = max(json.loads((p / "metrics.json").read_text())["val/corr"] for p in jobs)
    assert len(jobs) == 2 and results["best_value"] == pytest.approx(best)


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_completes_an_epoch(run_overrides, tmp_path):
    run_dir = tmp_path / "ddp"
    run_train(
        [
            *quick(run_overrides),
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            "trainer.precision=32",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=tmp_path,
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and metrics["val/corr"] is not None
    assert "test/corr/A" in metrics
