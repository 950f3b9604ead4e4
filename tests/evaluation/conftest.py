"""Tiny mouse folders and run directories in the contract layouts of docs/design.md."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

MOVIES = {"natural_movie_one": 2, "natural_movie_three": 3}


def split_of_repeat(repeat: int) -> str:
    """The seed's split by repeat (0-based): 0-6 train, 7 validation, 8-9 test."""
    return "train" if repeat < 7 else "validation" if repeat == 7 else "test"


def write_mouse_folder(
    root: Path,
    mouse_id: str = "A",
    num_neurons: int = 6,
    num_frames: int = 40,
    num_repeats: int = 10,
    seed: int = 0,
    test_clips: set[tuple[str, int]] | None = None,
) -> Path:
    """Write a mouse folder: responses = clip signal + repeat noise, float32 (N, T).

    Samples are ordered as the builder orders them: movies in order, then repeat-major, then
    clip. With ``test_clips`` the split is by clip instead of by repeat: every repeat of those
    clips is in the test split, every other sample in train.
    """
    rng = np.random.default_rng(seed)
    folder = root / mouse_id
    (folder / "data" / "responses").mkdir(parents=True)
    for sub in ("trials", "neurons", "session"):
        (folder / "meta" / sub).mkdir(parents=True)
    trials: dict[str, list] = {"movie": [], "clip": [], "repeat": [], "split": []}
    signals = {
        (movie, clip): rng.normal(size=(num_neurons, num_frames))
        for movie, count in MOVIES.items()
        for clip in range(count)
    }
    index = 0
    for movie, count in MOVIES.items():
        for repeat in range(num_repeats):
            for clip in range(count):
                noise = rng.normal(scale=1.5, size=(num_neurons, num_frames))
                response = (signals[(movie, clip)] + noise).astype(np.float32)
                np.save(folder / "data" / "responses" / f"{index}.npy", response)
                if test_clips is None:
                    split = split_of_repeat(repeat)
                else:
                    split = "test" if (movie, clip) in test_clips else "train"
                for key, value in zip(trials, (movie, clip, repeat, split), strict=True):
                    trials[key].append(value)
                index += 1
    np.save(folder / "meta" / "trials" / "movie.npy", np.array(trials["movie"]))
    np.save(folder / "meta" / "trials" / "clip.npy", np.array(trials["clip"], dtype=np.int64))
    np.save(folder / "meta" / "trials" / "repeat.npy", np.array(trials["repeat"], dtype=np.int64))
    np.save(folder / "meta" / "trials" / "split.npy", np.array(trials["split"]))
    np.save(
        folder / "meta" / "session" / "max_projection.npy", rng.random((64, 64)).astype(np.float32)
    )
    np.save(
        folder / "meta" / "neurons" / "roi_pixel_centers.npy",
        rng.uniform(4, 60, size=(num_neurons, 2)).astype(np.float32),
    )
    (folder / "manifest.json").write_text(json.dumps({"mouse_id": mouse_id, "seed": seed}))
    return folder


@pytest.fixture
def mouse_folder(tmp_path: Path) -> Path:
    """Mouse A: 5 clips x 10 repeats, 6 neurons, 40 frames, split by repeat."""
    return write_mouse_folder(tmp_path / "dataset")


def write_run_dir(
    path: Path,
    config: dict,
    metrics: dict | None,
    trainable: dict | None = None,
    val_curve: list[float] | None = None,
) -> Path:
    """A run directory in the contract layout (only the files the report reads)."""
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (path / "config_resolved.yaml").write_text(yaml.safe_dump(config))
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(metrics))
    if trainable is not None:
        (path / "trainable.json").write_text(json.dumps(trainable))
    if val_curve is not None:
        (path / "csv").mkdir()
        lines = ["epoch,lr-AdamW,step,train/loss,val/corr,val/corr/A"]
        for epoch, value in enumerate(val_curve):
            step = 10 * epoch
            lines.append(f"{epoch},0.001,{step},{1.0 / (epoch + 1):.4f},,")
            lines.append(f"{epoch},,{step + 5},{0.9 / (epoch + 1):.4f},,")
            lines.append(f"{epoch},,{step + 9},,{value},{value}")
        (path / "csv" / "metrics.csv").write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def run_dir_factory() -> Callable[..., Path]:
    return write_run_dir


@pytest.fixture
def mouse_folder_factory() -> Callable[..., Path]:
    return write_mouse_folder


@pytest.fixture(scope="session")
def insilico_mouse_folder(
    insilico_session: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """``insilico_mouse_folder(normalisation)``: mouse A built by the real builder from the shared
    in-silico session (``test`` preset, 140-frame clips, split by repeat), once per setting."""
    from brainenc.data.build import build_dataset

    built: dict[str, Path] = {}

    def build(normalisation: str = "seed") -> Path:
        if normalisation not in built:
            root = tmp_path_factory.mktemp(f"insilico_{normalisation}")
            settings = {
                "source": "nwb",
                "mice": {"A": [str(insilico_session)]},
                "normalisation": normalisation,
                "figures": False,
            }
            built[normalisation] = build_dataset(settings, root) / "A"
        return built[normalisation]

    return build
