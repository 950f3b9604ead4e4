"""Every option of every config group composes, and the parts it configures instantiate."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from training_helpers import CONF_DIR

from brainenc.training.config_checks import ConfigCheckError, build_strategy, check_config
from brainenc.training.loggers import instantiate_named
from brainenc.training.precision import resolve_precision
from brainenc.training.strategies import FineTuningStrategy


def options(group: str) -> list[str]:
    """Option names of a config group (file stems, nested folders excluded)."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def resolved(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)


@pytest.mark.parametrize("option", options("peft"))
def test_peft_options_instantiate_strategies(make_config, option):
    strategy = build_strategy(make_config([f"peft={option}"]))
    assert isinstance(strategy, FineTuningStrategy)
    assert strategy.name == ("lora" if option.startswith("lora") else option)
    if option.startswith("lora") and option != "lora":
        rank, layers = option.removeprefix("lora").split("_")
        assert strategy.r == int(rank) and strategy.lora_alpha == 2 * int(rank)
        assert len(strategy.target_modules) == (1 if layers == "fused" else 3)


@pytest.mark.parametrize("option", options("optim"))
def test_optim_options_build_optimizer_and_schedule(make_config, option):
    cfg = make_config([f"optim={option}"])
    parameter = torch.nn.Parameter(torch.zeros(3))
    optimizer = instantiate(cfg.optim.optimizer)([{"params": [parameter], "name": "head"}])
    assert isinstance(optimizer, torch.optim.AdamW)
    assert cfg.optim.name == option
    scheduler = instantiate(cfg.optim.scheduler)
    if cfg.optim.interval == "step":
        scheduler(optimizer, total_steps=10)
    else:
        scheduler(optimizer)
        assert cfg.optim.monitor == "val/corr"
    assert optimizer.param_groups[0]["lr"] == pytest.approx(cfg.optim.optimizer.lr)


@pytest.mark.parametrize("option", options("trainer"))
def test_trainer_options_instantiate(make_config, option, tmp_path):
    cfg = make_config([f"trainer={option}"])
    assert resolve_precision(cfg.trainer.precision, "cpu") in ("32", "16-mixed")
    # Build every option on the CPU: the GPU options differ in accelerator and precision only.
    trainer = instantiate(
        cfg.trainer,
        accelerator="cpu",
        precision="32",
        logger=False,
        enable_checkpointing=False,
        default_root_dir=str(tmp_path),
    )
    assert isinstance(trainer, pl.Trainer)
    expected = {"p100": "16-mixed", "cpu": 32}.get(option)
    if expected is not None:
        assert cfg.trainer.precision == expected
    if option == "ddp":
        assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == 2


@pytest.mark.parametrize("option", options("logger"))
def test_logger_options_instantiate(make_config, option):
    loggers = instantiate_named(make_config([f"logger={option}"]).logger, "logger")
    names = sorted(type(logger).__name__ for logger in loggers)
    # wandb only with logger=wandb when neither WANDB_API_KEY nor WANDB_MODE is set (offline then)
    expected = {"none": [], "wandb": ["CSVLogger", "WandbLogger"]}.get(option, ["CSVLogger"])
    assert names == expected
    wandb = [logger for logger in loggers if type(logger).__name__ == "WandbLogger"]
    assert all(logger._offline for logger in wandb)


def test_logger_wandb_offline_without_api_key(make_config, monkeypatch, tmp_path):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    loggers = instantiate_named(make_config(["logger=auto"]).logger, "logger")
    assert sorted(type(logger).__name__ for logger in loggers) == ["CSVLogger", "WandbLogger"]


@pytest.mark.parametrize("option", options("callbacks"))
def test_callback_options_instantiate(make_config, option):
    callbacks = instantiate_named(make_config([f"callbacks={option}"]).callbacks, "callbacks")
    assert callbacks and all(isinstance(c, pl.Callback) for c in callbacks)
    checkpoints = [c for c in callbacks if isinstance(c, pl.callbacks.ModelCheckpoint)]
    assert len(checkpoints) == (1 if option in ("default", "authors", "model_checkpoint") else 0)
    if not checkpoints:
        return
    checkpoint = checkpoints[0]
    assert (checkpoint.monitor, checkpoint.mode, checkpoint.filename) == ("val/corr", "max", "best")
    assert checkpoint.auto_insert_metric_name is False


@pytest.mark.parametrize("option", options("experiment"))
def test_experiment_options_compose_and_instantiate(make_config, option):
    cfg = make_config([f"experiment={option}"])
    values = resolved(cfg)
    assert values["task_name"] == option
    assert isinstance(build_strategy(cfg), FineTuningStrategy)
    instantiate(cfg.optim.optimizer)([torch.nn.Parameter(torch.zeros(1))])


@pytest.mark.parametrize("option", options("debug"))
def test_debug_options_compose(make_config, option):
    cfg = make_config([f"debug={option}"])
    assert resolved(cfg)["trainer"]["accelerator"] in ("cpu", "auto")


@pytest.mark.parametrize("option", options("hparams_search"))
def test_sweeps_compose_in_multirun_mode(make_config, option):
    from hydra.core.hydra_config import HydraConfig

    make_config([f"hparams_search={option}"])
    hydra = HydraConfig.get()
    assert str(hydra.mode) == "RunMode.MULTIRUN"
    if option == "seed_comparison":  # whole experiments (test_cluster_configs.py)
        assert "experiment" in hydra.sweeper.params
        return
    assert "peft" in hydra.sweeper.params and "optim.optimizer.lr" in hydra.sweeper.params
    if option == "lora_optuna":
        assert hydra.sweeper.direction == "maximize"


@pytest.mark.parametrize(
    ("group", "option"),
    [("data", o) for o in options("data")] + [("model", o) for o in options("model")],
)
def test_data_and_model_options_compose(make_config, group, option):
    cfg = make_config([f"{group}={option}"])
    assert "_target_" in cfg[group]


def test_slurm_launcher_and_run_dirs(make_config):
    from hydra.core.hydra_config import HydraConfig

    make_config(["hydra/launcher=slurm"])
    hydra = HydraConfig.get()
    assert hydra.launcher._target_.endswith("SlurmLauncher")
    launcher = OmegaConf.to_container(hydra.launcher, resolve=False)
    assert launcher["submitit_folder"] == "${hydra.sweep.dir}/.submitit/%j"
    assert "/outputs/runs/" in hydra.run.dir and "/outputs/multirun/" in hydra.sweep.dir


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["peft=lora8_fused", "peft.r=0"], "peft.r must be an integer >= 1"),
        (["peft=lora", "peft.target_modules=[qkv]"], "unknown LoRA target"),
        (["optim.optimizer.lr=-0.1"], "optim.optimizer.lr must be a positive number"),
        (["optim.optimizer.weight_decay=-1"], "weight_decay must be >= 0"),
        (["optim.scheduler.warmup_steps=-2"], "warmup_steps must be an integer >= 0"),
        (["+optim.param_groups.core.lr=0"], r"param_groups.core.lr must be > 0"),
        (["loss.name=l1"], "loss.name='l1'; valid: mse, poisson_correlation, correlation"),
        (["evaluation.skip=-1"], "evaluation.skip must be an integer >= 0"),
        (["loss.name=poisson_correlation"], "needs non-negative responses"),
        (["trainer.precision=fp8"], "trainer.precision='fp8'"),
        (["trainer.max_epochs=0"], "trainer.max_epochs must be an integer >= 1"),
        (["trainer.accumulate_grad_batches=0"], "accumulate_grad_batches must be an integer >= 1"),
        (["peft=head_only", "~pretrain"], "peft=head_only needs a pretrained core"),
        (
            ["peft=lora8_fused", "peft.train_head=false", "pretrained.path=core.pt"],
            "frozen, freshly initialised shifters and readouts",
        ),
        (["peft=none", "pretrained.path=core.pt"], "peft=none trains from scratch"),
        (["peft=full", "pretrained.path=/nonexistent/core.pt"], "no such file"),
        (["pretrained.part=heads"], "pretrained.part='heads'; valid: core, all"),
        (["ckpt_path=/nonexistent/last.ckpt"], "ckpt_path=/nonexistent/last.ckpt: no such file"),
        (["trainer=ddp", "hparams_search=lora_grid"], "cannot run inside a local multirun"),
    ],
)
def test_bad_settings_fail_early_with_the_setting_named(make_config, overrides, message):
    with pytest.raises(ConfigCheckError, match=message):
        check_config(make_config(overrides))


def test_frozen_heads_are_allowed_when_the_checkpoint_brings_them(make_config, core_checkpoint):
    frozen = ["peft=lora8_fused", "peft.train_head=false", f"pretrained.path={core_checkpoint}"]
    assert check_config(make_config([*frozen, "pretrained.part=all"])).train_head is False
    assert check_config(make_config(frozen[:1] + frozen[2:])).train_head is True  # the default


def test_default_config_passes_the_checks(make_config):
    assert check_config(make_config([])).name == "none"


def test_every_group_has_its_options():
    groups = {p.name for p in CONF_DIR.iterdir() if p.is_dir()}
    assert {"peft", "optim", "trainer", "logger", "callbacks", "experiment"} <= groups
    assert {
        "lora8_fused",
        "lora8_all",
        "lora16_fused",
        "lora16_all",
        "lora32_fused",
        "lora32_all",
    } <= set(options("peft"))
    assert {"cosine", "linear", "constant", "plateau"} <= set(options("optim"))
    assert {"cpu", "gpu", "ddp", "p100"} <= set(options("trainer"))
    assert Path(CONF_DIR / "hydra" / "launcher" / "slurm.yaml").is_file()
