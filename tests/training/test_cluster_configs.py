"""Cluster configs compose: the SLURM launcher sized by the trainer, the seed's comparison sweep,
and the DDP trainer with brainenc's own sharding."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from lightning.pytorch.strategies import DDPStrategy
from omegaconf import OmegaConf
from training_helpers import CONF_DIR

from brainenc.training.trainer_setup import data_parallel_strategy

SEED_RUNS = sorted(
    p.stem for p in (CONF_DIR / "experiment").glob("seed_*.yaml") if "continue" not in p.stem
)


def compose_with_hydra(overrides: list[str]):
    """The full config as the launcher sees it (job and ``hydra`` nodes in one tree)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return compose("train", overrides=overrides, return_hydra_config=True)


def test_slurm_job_is_sized_by_the_trainer():
    cfg = compose_with_hydra(
        ["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"]
    )
    launcher = cfg.hydra.launcher
    assert (launcher.nodes, launcher.gpus_per_node, launcher.tasks_per_node) == (2, 4, 4)
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.use_distributed_sampler is False
    default = compose_with_hydra(["hydra/launcher=slurm"]).hydra.launcher
    assert (default.nodes, default.gpus_per_node, default.tasks_per_node) == (1, 1, 1)


def test_seed_comparison_sweeps_the_seed_runs():
    cfg = compose_with_hydra(["hparams_search=seed_comparison", "hydra/launcher=slurm"])
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    swept = cfg.hydra.sweeper.params.experiment.split(",")
    assert sorted(swept) == SEED_RUNS and len(swept) == 7


@pytest.mark.parametrize("run", SEED_RUNS)
def test_each_seed_comparison_job_composes(run):
    cfg = compose_with_hydra(["hparams_search=seed_comparison", f"experiment={run}"])
    if run == "seed_head_only":
        assert cfg.peft._target_.endswith("HeadOnly")
    else:
        rank, targets = run.removeprefix("seed_lora").split("_")
        assert cfg.peft.r == int(rank)
        assert (targets == "fused") == (list(cfg.peft.target_modules) == ["fused_linear"])
    assert cfg.model.core.emb_dim == 112  # the full-size ViV1T of the seed
    assert cfg.trainer.max_epochs in (25, 30, 35, 40)
    job = OmegaConf.to_container(cfg, resolve=False)
    assert Path(job["hydra"]["sweep"]["dir"]).name.endswith("${task_name}")


def test_ddp_looks_for_unused_heads_only_with_several_mice():
    assert data_parallel_strategy("ddp", 1) == "ddp"
    several = data_parallel_strategy("ddp", 2)
    assert isinstance(several, DDPStrategy)
    assert several._ddp_kwargs["find_unused_parameters"] is True
    assert data_parallel_strategy("auto", 3) == "auto"
