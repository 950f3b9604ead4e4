from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from brainenc.conf import CONFIG_DIR
from brainenc.data.config import BuildConfig, config_digest
from brainenc.data.errors import ConfigError


def test_defaults_are_the_seed_settings():
    config = BuildConfig.from_mapping({})
    assert config.movies == ("natural_movie_one", "natural_movie_three")
    assert config.clip_frames == 140 and config.frame_size == (36, 64)
    assert config.splits.train == tuple(range(7)) and config.splits.test == (8, 9)
    assert config.selection.session_types == ("three_session_A",)
    assert config.selection.require_eye_tracking and not config.selection.include_failed
    assert config.normalisation == "seed" and config.source == "insilico"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"clip_frame": 140}, r"data.build: unknown setting\(s\) \['clip_frame'\]"),
        ({"splits": {"train": [0], "tests": [1]}}, r"data.build.splits: unknown .*'tests'"),
        ({"normalisation": "zscore"}, r"normalisation must be one of \['seed', 'viv1t'\]"),
        ({"movies": ["natural_movie_four"]}, "data.build.movies must be one of"),
        ({"clip_frames": 0}, "clip_frames must be >= 1"),
        ({"splits": {"train": [0, 7], "validation": [7]}}, "repeat 7 is in both 'train'"),
        ({"splits": {"train": []}}, "splits.train must list at least one repeat"),
        ({"mice": {"A/B": [1]}}, "mouse id 'A/B'"),
        ({"source": "allen", "mice": {"A": ["x.nwb"]}}, "must list experiment ids"),
        ({"source": "nwb"}, "source 'nwb' needs data.build.mice"),
        ({"pupil_units": "pixels"}, "pupil_units must be one of"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_bad_settings_name_the_setting(settings, message):
    with pytest.raises(ConfigError, match=message):
        BuildConfig.from_mapping(settings)


def test_identity_separates_sessions_and_processing():
    config = BuildConfig.from_mapping({"mice": {"A": [501729039]}})
    a = config.mouse_identity(["501729039"])
    other_clips = BuildConfig.from_mapping({"clip_frames": 100}).mouse_identity(["501729039"])
    overwrite = BuildConfig.from_mapping({"overwrite": True}).mouse_identity(["501729039"])
    assert config_digest(a) != config_digest(other_clips)
    assert config_digest(a) == config_digest(overwrite)
    assert config_digest(a) != config_digest(config.mouse_identity(["501773889"]))


@pytest.mark.parametrize("data", ["insilico", "insilico_demo", "insilico_test", "allen", "nwb"])
def test_every_data_config_composes_and_validates(data, tmp_path):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("build", overrides=[f"data={data}", f"paths.root_dir={tmp_path}"])
    assert cfg.data._target_ == "brainenc.data.BrainDataModule"
    if data == "nwb":
        with pytest.raises(ConfigError, match="source 'nwb' needs data.build.mice"):
            BuildConfig.from_mapping(cfg.data.build)
        return
    config = BuildConfig.from_mapping(cfg.data.build)
    assert str(tmp_path) in cfg.data.root and str(tmp_path) in config.cache_dir
    assert config.source == ("allen" if data == "allen" else "insilico")


def test_data_config_instantiates_the_datamodule(tmp_path):
    from hydra.utils import instantiate

    from brainenc.data.datamodule import BrainDataModule

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("build", overrides=["data=insilico_test", f"paths.root_dir={tmp_path}"])
    datamodule = instantiate(cfg.data)
    assert isinstance(datamodule, BrainDataModule)
    assert datamodule.build.insilico.scale == "test" and datamodule.build.figures is False
    assert datamodule.root == tmp_path / "outputs/datasets/insilico_test_realistic_seed0_seed"


def test_missing_allensdk_says_how_to_install_it():
    from brainenc.data.allen import allensdk_module

    with pytest.raises(ImportError, match=r'pip install -e "\.\[data\]"'):
        allensdk_module("allensdk.no_such_module")
