"""Data settings the model or the scoring cannot use fail in the config check, naming the setting,
before any dataset is built (they used to build a dataset and fail deep inside training)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from brainenc.conf import CONFIG_DIR as CONF
from brainenc.training import train
from brainenc.training.config_checks import ConfigCheckError, check_config


def run_config(overrides: list[str], root: Path) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("train", overrides=[f"paths.root_dir={root}", "logger=none", *overrides])
    GlobalHydra.instance().clear()
    with open_dict(cfg):
        cfg.paths.output_dir = str(root / "run")
    return cfg


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.crop_frames=10"], r"data.crop_frames=10: training windows need between .* = 26"),
        (["data.crop_frames=400"], r"data.crop_frames=400: .*model.core.max_frame=300"),
        (
            ["data.build.frame_size=[35,63]"],
            r"data.build.frame_size=\[35, 63\] differs from model.core.frame_size=\[36, 64\]",
        ),
        (
            ["data.build.frame_size=[5,5]", "model.core.frame_size=[5,5]"],
            r"frame_size=\[5, 5\] must be .* at least model.core.spatial_patch_size=7",
        ),
        (["data.build.clip_frames=25"], r"clip_frames=25: .*use clip_frames >= 26"),
        (
            ["data.build.clip_frames=60", "evaluation.skip=59"],
            r"clip_frames=60: .*score frames 59\.\. .*use clip_frames >= 61",
        ),
        (["data.build.clip_frames=301"], r"clip_frames=301 exceeds model.core.max_frame=300"),
    ],
    ids=[
        "crop-shorter-than-the-context",
        "crop-longer-than-the-position-embedding",
        "frame-size-not-the-model's",
        "frame-smaller-than-a-patch",
        "clip-with-one-predicted-frame",
        "clip-with-one-scored-frame",
        "clip-longer-than-the-position-embedding",
    ],
)
def test_unusable_data_setting_is_named_before_anything_is_built(overrides, message, tmp_path):
    cfg = run_config(overrides, tmp_path)
    with pytest.raises(ConfigCheckError, match=message):
        check_config(cfg)
    with pytest.raises(ConfigCheckError, match=message):
        train(cfg)
    assert not (tmp_path / "datasets").exists()


def test_usable_data_settings_pass(tmp_path):
    check_config(run_config(["data.crop_frames=26", "data.build.clip_frames=26"], tmp_path))
    size = ["data.build.frame_size=[35,63]", "model.core.frame_size=[35,63]"]
    check_config(run_config(size, tmp_path))
