"""`split=by_clip`: k folds over movie clips, so that models are scored on clips they never saw."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from hypothesis import given
from hypothesis import strategies as st
from omegaconf import OmegaConf

from brainenc.conf import CONFIG_DIR
from brainenc.data.build import build_dataset
from brainenc.data.config import BuildConfig, SplitConfig, clip_folds, config_digest
from brainenc.data.dataset import MouseDataset
from brainenc.data.errors import ConfigError, SessionFileError
from brainenc.data.mouse_folder import read_manifest

# 70-frame clips of the test-scale movies: natural_movie_one 280 frames = 4 clips, natural_movie_three
# 420 = 6. In 3 folds with test fold 2 (validation fold 0 by default):
#   natural_movie_one   folds [0, 0, 1, 2]        -> validation 0-1, train 2,   test 3
#   natural_movie_three folds [0, 0, 1, 1, 2, 2]  -> validation 0-1, train 2-3, test 4-5
CLIP_FRAMES = 70
EXPECTED_CLIPS = {
    "natural_movie_one": {"validation": [0, 1], "train": [2], "test": [3]},
    "natural_movie_three": {"validation": [0, 1], "train": [2, 3], "test": [4, 5]},
}
BY_CLIP = {"by": "clip", "folds": 3, "test_fold": 2}


@pytest.mark.parametrize(
    ("n_clips", "folds", "expected"),
    [
        (10, 5, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]),
        (7, 3, [0, 0, 0, 1, 1, 2, 2]),
        (6, 5, [0, 0, 1, 2, 3, 4]),  # natural_movie_one of a full session in 140-frame clips
        (3, 3, [0, 1, 2]),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else None,
)
def test_clip_folds_are_contiguous_blocks(n_clips, folds, expected):
    assert clip_folds(n_clips, folds).tolist() == expected


def test_a_full_session_puts_five_clips_of_natural_movie_three_in_every_fold():
    assert np.bincount(clip_folds(25, 5)).tolist() == [5, 5, 5, 5, 5]


@given(st.integers(1, 12).flatmap(lambda k: st.tuples(st.integers(k, 60), st.just(k))))
def test_clip_folds_follow_array_split(clips_and_folds):
    n_clips, folds = clips_and_folds
    labels = clip_folds(n_clips, folds)
    blocks = np.array_split(np.arange(n_clips), folds)
    assert labels.tolist() == [f for f, block in enumerate(blocks) for _ in block]
    sizes = np.bincount(labels, minlength=folds)
    assert sizes.min() >= 1 and sizes.max() - sizes.min() <= 1
    assert np.all(np.diff(labels) >= 0)


def test_fewer_clips_than_folds_is_refused():
    with pytest.raises(ValueError, match="cannot cut 2 clips into 3 non-empty folds"):
        clip_folds(2, 3)


def test_split_of_by_clip_ignores_the_repeat():
    splits = SplitConfig.from_mapping({"by": "clip", "folds": 5, "test_fold": 4})
    assert splits.resolved_validation_fold == 0
    by_clip = [splits.split_of(9, clip, 10) for clip in range(10)]
    assert by_clip == ["validation"] * 2 + ["train"] * 6 + ["test"] * 2
    assert {splits.split_of(repeat, 9, 10) for repeat in range(12)} == {"test"}
    explicit = SplitConfig.from_mapping({"by": "clip", "test_fold": 1, "validation_fold": 3})
    assert [explicit.split_of(0, clip, 5) for clip in range(5)] == [
        "train",
        "test",
        "train",
        "validation",
        "train",
    ]


@pytest.mark.parametrize(
    ("splits", "message"),
    [
        ({"by": "fold"}, r"data.build.splits.by must be one of \['repeat', 'clip'\], got 'fold'"),
        ({"by": "clip", "test_fold": 7}, r"data.build.splits.test_fold must be in 0..4, got 7"),
        ({"by": "clip", "folds": 4, "validation_fold": -1}, r"validation_fold must be in 0..3"),
        ({"by": "clip", "folds": 2}, r"folds must be an integer >= 3 .* got 2"),
        ({"by": "clip", "test_fold": 2, "validation_fold": 2}, "must differ from test_fold"),
        ({"by": "clip", "train": [0, 1]}, r"\['train'\] do not apply to by=clip"),
        ({"test_fold": 1}, r"\['test_fold'\] do not apply to by=repeat"),
        ({"by": "clip", "tag": "../other"}, "data.build.splits.tag names a folder"),
        ({"by": "clip", "fold": 1}, r"data.build.splits: unknown setting\(s\) \['fold'\]"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_split_settings_name_the_setting(splits, message):
    with pytest.raises(ConfigError, match=message):
        BuildConfig.from_mapping({"splits": splits})


def test_identity_holds_the_split_settings_of_its_kind():
    def identity(splits: dict) -> str:
        return config_digest(BuildConfig.from_mapping({"splits": splits}).mouse_identity(["1"]))

    # the seed's split keeps the identity it had before `by` existed (built folders stay valid)
    seed = BuildConfig.from_mapping({})
    assert seed.processing()["splits"] == {
        "train": [0, 1, 2, 3, 4, 5, 6],
        "validation": [7],
        "test": [8, 9],
    }
    assert identity({"by": "repeat"}) == identity({})
    by_clip = BuildConfig.from_mapping({"splits": {"by": "clip", "test_fold": 2}})
    assert by_clip.processing()["splits"] == {
        "by": "clip",
        "folds": 5,
        "test_fold": 2,
        "validation_fold": 3,
    }
    assert by_clip.to_dict()["splits"] == by_clip.processing()["splits"]
    assert identity({"by": "clip"}) != identity({})
    assert identity({"by": "clip"}) != identity({"by": "clip", "test_fold": 1})
    assert identity({"by": "clip", "test_fold": 1}) == identity(
        {"by": "clip", "test_fold": 1, "validation_fold": 2, "tag": "_any"}
    )


@pytest.fixture(scope="module")
def by_clip_mouse(insilico_code_session, tmp_path_factory) -> Path:
    """Mouse A (stimulus codes as responses) built in 70-frame clips, 3 folds, test fold 2."""
    settings = {
        "source": "nwb",
        "mice": {"A": [str(insilico_code_session)]},
        "clip_frames": CLIP_FRAMES,
        "splits": BY_CLIP,
        "figures": False,
    }
    return build_dataset(settings, tmp_path_factory.mktemp("by_clip")) / "A"


def test_by_clip_build_holds_every_repeat_of_a_clip_in_one_split(by_clip_mouse):
    trials = {k: np.load(by_clip_mouse / f"meta/trials/{k}.npy") for k in ("movie", "clip")}
    split = np.load(by_clip_mouse / "meta/trials/split.npy")
    repeat = np.load(by_clip_mouse / "meta/trials/repeat.npy")
    clips: dict[tuple[str, int], set[str]] = defaultdict(set)
    repeats: dict[tuple[str, int], list[int]] = defaultdict(list)
    for movie, clip, name, r in zip(trials["movie"], trials["clip"], split, repeat, strict=True):
        clips[(str(movie), int(clip))].add(str(name))
        repeats[(str(movie), int(clip))].append(int(r))
    assert all(len(names) == 1 for names in clips.values())
    assert all(sorted(r) == list(range(10)) for r in repeats.values())
    found = {
        movie: {
            name: sorted(c for (m, c), names in clips.items() if m == movie and name in names)
            for name in ("validation", "train", "test")
        }
        for movie in EXPECTED_CLIPS
    }
    assert found == EXPECTED_CLIPS
    manifest = read_manifest(by_clip_mouse)
    assert manifest["counts"] == {
        "train": {"total": 30, "natural_movie_one": 10, "natural_movie_three": 20},
        "validation": {"total": 40, "natural_movie_one": 20, "natural_movie_three": 20},
        "test": {"total": 30, "natural_movie_one": 10, "natural_movie_three": 20},
    }
    assert manifest["config"]["splits"] == {
        "by": "clip",
        "folds": 3,
        "test_fold": 2,
        "validation_fold": 0,
    }


def test_by_clip_samples_show_only_the_frames_of_their_clip(by_clip_mouse):
    """Decoded stimulus codes: the training split never holds a frame of a held-out clip."""
    dataset = MouseDataset(by_clip_mouse, split="train")
    normaliser = dataset.normaliser()
    codes = {"natural_movie_one": 1, "natural_movie_three": 3}
    for sample in (dataset[i] for i in range(len(dataset))):
        raw = normaliser.inverse("responses", sample["responses"].numpy())
        code = np.rint(raw[0]).astype(np.int64)  # every neuron carries the same code
        frame = code % 10_000
        assert set((code // 1_000_000).tolist()) == {codes[sample["movie"]]}
        assert set((code // 10_000 % 100).tolist()) == {sample["repeat"]}
        train_clips = EXPECTED_CLIPS[sample["movie"]]["train"]
        # a stimulus-table row spanning 0 frames shows the next movie frame (one past the clip)
        assert train_clips[0] * CLIP_FRAMES <= frame.min()
        assert frame.max() <= (train_clips[-1] + 1) * CLIP_FRAMES


def test_by_clip_statistics_come_from_the_training_clips_only(by_clip_mouse):
    dataset = MouseDataset(by_clip_mouse, split=None)
    normaliser = dataset.normaliser()
    train = np.load(by_clip_mouse / "meta/trials/split.npy") == "train"
    samples = [dataset[i] for i in range(len(dataset))]
    raw = np.stack([normaliser.inverse("responses", s["responses"].numpy()) for s in samples])
    stats = dataset.mouse.statistics()["responses"]
    np.testing.assert_allclose(stats["mean"], raw[train].mean(axis=(0, 2)), rtol=1e-6)
    assert not np.allclose(stats["mean"], raw.mean(axis=(0, 2)), rtol=1e-4)
    np.testing.assert_allclose(stats["max"], raw[train].max(axis=(0, 2)), rtol=1e-6)
    # z-scored with training statistics: mean 0 and std 1 over the training clips only
    normalised = np.stack([s["responses"].numpy() for s in samples]).astype(np.float64)
    np.testing.assert_allclose(normalised[train].mean(axis=(0, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(normalised[train].std(axis=(0, 2)), 1, rtol=1e-4)
    np.testing.assert_allclose(dataset.mean_responses, 0, atol=1e-4)
    assert np.all(np.abs(normalised.mean(axis=(0, 2))) > 0.1)
    video = dataset.mouse.statistics()["video"]
    frames = np.stack([normaliser.inverse("video", s["video"].numpy()) for s in samples])
    np.testing.assert_allclose(video["mean"], frames[train].mean(), rtol=1e-4)
    assert not np.isclose(video["mean"], frames.mean(), rtol=1e-4)


def test_trial_average_baseline_cannot_score_unseen_clips(by_clip_mouse):
    from brainenc.data.mouse_folder import MouseFolder
    from brainenc.evaluation.baseline import trial_average_baseline

    result = trial_average_baseline(MouseFolder(by_clip_mouse), split="test")
    assert result.scores is None and result.value is None
    assert result.reason == "clips unseen in training"
    assert sorted(result.unseen_clips) == [
        ("natural_movie_one", 3),
        ("natural_movie_three", 4),
        ("natural_movie_three", 5),
    ]


def test_movie_with_fewer_clips_than_folds_names_movie_clips_and_folds(insilico_session, tmp_path):
    settings = {"source": "nwb", "mice": {"A": [str(insilico_session)]}, "splits": BY_CLIP}
    message = (
        r"natural_movie_one in .*\.nwb has 2 clips of data.build.clip_frames=140 frames, fewer "
        r"than data.build.splits.folds=3"
    )
    with pytest.raises(SessionFileError, match=message):
        build_dataset({**settings, "figures": False}, tmp_path)
    assert not (tmp_path / "A").exists()


def compose_run(*overrides: str, config: str = "train"):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config, overrides=["paths.root_dir=/data", *overrides])


def test_split_group_sets_the_splits_and_names_the_dataset_folder():
    cfg = compose_run("split=by_clip", "data.build.splits.test_fold=2")
    splits = BuildConfig.from_mapping(cfg.data.build).splits
    assert (splits.by, splits.folds, splits.test_fold, splits.resolved_validation_fold) == (
        "clip",
        5,
        2,
        3,
    )
    assert cfg.data.root == "/data/outputs/datasets/insilico_demo_realistic_seed0_seed_clipfold2of5"
    by_repeat = compose_run()
    assert by_repeat.data.root == "/data/outputs/datasets/insilico_demo_realistic_seed0_seed"
    assert BuildConfig.from_mapping(by_repeat.data.build).splits == SplitConfig()
    # a multirun over the test fold gives one dataset folder per fold
    roots = {
        compose_run("split=by_clip", f"data.build.splits.test_fold={t}").data.root for t in range(5)
    }
    assert len(roots) == 5
    built = compose_run("split=by_clip", "data=allen", config="build")
    assert built.data.root == "/data/outputs/datasets/allen_seed_clipfold0of5"


def test_split_group_leaves_ready_made_data_alone():
    cfg = compose_run("data=sensorium")
    assert cfg.data.build is None
    with pytest.raises(ConfigCompositionException, match="data.build.splits.test_fold"):
        compose_run("data.build.splits.test_fold=2")  # folds belong to split=by_clip


def test_pretraining_data_keeps_the_seed_split():
    """A data node composed outside the split group (a pretraining stage) uses its own root."""
    cfg = compose_run("experiment=demo", "split=by_clip")
    stage = OmegaConf.create(
        {"data": OmegaConf.to_container(cfg.pretrain.data), "paths": cfg.paths}
    )
    assert cfg.data.root.endswith("insilico_demo_realistic_seed0_seed_clipfold0of5")
    assert stage.data.root.endswith("insilico_demo_realistic_seed0_seed")
    assert BuildConfig.from_mapping(stage.data.build).splits == SplitConfig()
