"""``+continue_from=RUN`` takes the earlier run's data and model, and refuses other weights early."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from brainenc.runs.folder import write_resolved_config
from brainenc.training import train
from brainenc.training.config_checks import ConfigCheckError
from brainenc.training.continuation import continued_config

EARLIER = [
    "data=insilico_test",
    "data.batch_size=8",
    "model=tiny",
    "model.core.spatial_patch_stride=4",
]


@pytest.fixture
def earlier_run(make_config, tmp_path):
    run_dir = tmp_path / "earlier"
    write_resolved_config(run_dir, make_config(EARLIER, run_dir))
    return run_dir


def test_continue_from_alone_takes_the_earlier_runs_data_and_model(make_config, earlier_run):
    earlier = OmegaConf.load(earlier_run / "config_resolved.yaml")
    cfg = continued_config(make_config([f"+continue_from={earlier_run}"]))
    assert cfg.data.root == earlier.data.root and cfg.data.batch_size == 8
    assert cfg.model == earlier.model
    checkpoint = earlier_run / "checkpoints" / "best.ckpt"  # a checkpoint inside the run folder
    cfg = continued_config(make_config([f"+continue_from={checkpoint}", "data.batch_size=2"]))
    assert cfg.data.root == earlier.data.root and cfg.data.batch_size == 2  # override on top


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["model.core.emb_dim=32"], "model.core.emb_dim=32 (the earlier run: 16)"),
        (["model=small"], "model.core.emb_dim=32 (the earlier run: 16)"),
    ],
    ids=["setting", "group"],
)
def test_another_architecture_is_refused_before_any_work(
    make_config, earlier_run, tmp_path, overrides, named
):
    cfg = make_config([f"+continue_from={earlier_run}", *overrides], tmp_path / "next")
    with pytest.raises(ConfigCheckError, match=named.replace("(", r"\(").replace(")", r"\)")):
        train(cfg)
    assert not (tmp_path / "next").exists() and not (tmp_path / "outputs").exists()


def test_execution_settings_may_differ(make_config, earlier_run):
    cfg = continued_config(
        make_config([f"+continue_from={earlier_run}", "model.core.grad_checkpointing=true"])
    )
    assert cfg.model.core.grad_checkpointing is True and cfg.model.core.emb_dim == 16
