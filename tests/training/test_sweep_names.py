"""Multirun job folders are named by the swept keys only, and every peft option takes every
``peft.*`` setting (one Optuna search space spans strategies without ``++``)."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
import pytest
from omegaconf import DictConfig
from training_helpers import CONF_DIR

from brainenc.runs.naming import sweep_job_name, swept_keys
from brainenc.training.config_checks import build_strategy
from brainenc.training.strategies import HeadOnly, LoraStrategy


def multirun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: list[str]) -> list:
    """Run ``python train.py -m <overrides>`` with a task that only builds the peft strategy;
    return ``(job folder name, strategy)`` per job."""
    jobs = []

    def task(cfg: DictConfig) -> float:
        jobs.append((Path(cfg.paths.output_dir).name, build_strategy(cfg)))
        return 0.0

    argv = [
        "train.py",
        "-m",
        *overrides,
        f"paths.root_dir={tmp_path}",
        "hydra/job_logging=none",
        "hydra/hydra_logging=none",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")(task)()
    return jobs


def test_grid_job_names_hold_the_swept_keys_only(tmp_path, monkeypatch):
    jobs = multirun(
        tmp_path,
        monkeypatch,
        ["peft=lora8_fused,head_only", "optim=cosine", "trainer.max_epochs=3", "seed=7"],
    )
    assert [name for name, _ in jobs] == ["0_peft=lora8_fused", "1_peft=head_only"]


def test_optuna_names_show_group_choices_and_take_peft_settings(tmp_path, monkeypatch):
    jobs = multirun(
        tmp_path,
        monkeypatch,
        [
            "hparams_search=lora_optuna",
            "hydra.sweeper.n_trials=4",
            "peft=choice(head_only,lora8_fused)",
            "peft.r=choice(4,16)",
            "trainer.max_epochs=3",
        ],
    )
    assert len(jobs) == 4
    for name, strategy in jobs:
        keys = [item.partition("=")[0] for item in name.partition("_")[2].split(",")]
        assert keys == ["optim", "optim.optimizer.lr", "peft", "peft.r"], name
        assert f"peft={'head_only' if isinstance(strategy, HeadOnly) else 'lora8_fused'}" in name
        if isinstance(strategy, LoraStrategy):
            assert f"peft.r={strategy.r}" in name
    assert {type(strategy) for _, strategy in jobs} <= {HeadOnly, LoraStrategy}


def test_sweep_job_name_values_and_length():
    overrides = ["peft=lora8_all", "optim.optimizer.lr=0.0023456789", "data.root=/data/x", "seed=3"]
    assert sweep_job_name(overrides, ["seed"]) == (
        "data.root=x,optim.optimizer.lr=0.002346,peft=lora8_all"
    )
    long = [f"model.core.setting_{i}={i}" for i in range(20)]
    name = sweep_job_name(long, max_length=60)
    assert len(name) == 60 and name != sweep_job_name(long[:-1], max_length=60)
    assert sweep_job_name(["seed=1"], ["seed"]) == "default"
    assert swept_keys(["peft=a,b", "lr=interval(0.1,1)", "seed=1"], {"optim": "x,y"}) == {
        "peft",
        "lr",
        "optim",
    }
