"""Trial-average baseline and jackknife oracle on tiny mouse folders, against NumPy references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brainenc.data.mouse_folder import MouseFolder
from brainenc.evaluation.baseline import (
    UNSEEN_REASON,
    clip_trial_average,
    jackknife_oracle,
    leave_one_out_average,
    sample_baseline,
    trial_average,
    trial_average_baseline,
)
from brainenc.evaluation.scoring import score_predictions


def read_samples(folder: Path) -> list[dict]:
    """Every sample of a folder with its metadata, read independently of MouseFolder."""
    trials = {
        k: np.load(folder / "meta" / "trials" / f"{k}.npy")
        for k in ("movie", "clip", "repeat", "split")
    }
    return [
        {
            "movie": str(trials["movie"][i]),
            "clip": int(trials["clip"][i]),
            "repeat": int(trials["repeat"][i]),
            "split": str(trials["split"][i]),
            "responses": np.load(folder / "data" / "responses" / f"{i}.npy").astype(np.float64),
        }
        for i in range(len(trials["movie"]))
    ]


def reference_corr(prediction: np.ndarray, target: np.ndarray, start: int = 24) -> float:
    """Mean over neurons of NumPy's corrcoef over frames [start:]."""
    return float(
        np.mean(
            [
                np.corrcoef(p[start:], t[start:])[0, 1]
                for p, t in zip(prediction, target, strict=True)
            ]
        )
    )


def test_array_level_averages() -> None:
    responses = np.arange(24, dtype=np.float64).reshape(3, 2, 4)
    np.testing.assert_array_equal(trial_average(responses), responses[1])
    loo = leave_one_out_average(responses)
    np.testing.assert_allclose(loo[0], (responses[1] + responses[2]) / 2)
    np.testing.assert_allclose(loo[2], (responses[0] + responses[1]) / 2)
    with pytest.raises(ValueError, match="repeats >= 2"):
        leave_one_out_average(responses[:1])


def test_clip_trial_average_is_the_mean_of_training_repeats(mouse_folder: Path) -> None:
    samples = read_samples(mouse_folder)
    for movie, clip in (("natural_movie_one", 1), ("natural_movie_three", 2)):
        train = [
            s["responses"]
            for s in samples
            if (s["movie"], s["clip"], s["split"]) == (movie, clip, "train")
        ]
        assert len(train) == 7
        np.testing.assert_allclose(
            clip_trial_average(mouse_folder, movie, clip), np.mean(train, axis=0), rtol=1e-12
        )


def test_all_clips_baseline_equals_reference(mouse_folder: Path) -> None:
    samples = read_samples(mouse_folder)
    expected: dict[int, list[float]] = {8: [], 9: []}
    for sample in samples:
        if sample["split"] != "test":
            continue
        average = np.mean(
            [
                s["responses"]
                for s in samples
                if s["split"] == "train"
                and (s["movie"], s["clip"]) == (sample["movie"], sample["clip"])
            ],
            axis=0,
        )
        expected[sample["repeat"]].append(reference_corr(average, sample["responses"]))
    result = trial_average_baseline(mouse_folder, split="test")
    assert result.reason is None
    assert result.sample_indices.size == 10
    assert result.predictions.shape == (10, 6, 40)
    assert set(result.per_repeat) == {8, 9}
    for repeat, values in expected.items():
        assert result.per_repeat[repeat] == pytest.approx(np.mean(values), abs=1e-7)
    # Every repeat has all clips, so the seed's mean of the two repeats is the sample mean.
    assert result.value == pytest.approx(np.mean(expected[8] + expected[9]), abs=1e-7)
    assert result.scores.frames == (24, 40)


def test_baseline_and_model_are_scored_on_the_same_frames(mouse_folder: Path) -> None:
    """A model output (T - 24 frames) equal to the baseline's last frames scores identically."""
    mouse = MouseFolder(mouse_folder)
    for skip in (24, 30):
        baseline = trial_average_baseline(mouse, split="test", skip=skip)
        model_output = baseline.predictions[..., 24:]
        model = score_predictions(
            model_output, mouse.stack_responses(baseline.sample_indices), skip
        )
        assert model.frames == baseline.scores.frames == (skip, 40)
        assert model.corr == pytest.approx(baseline.value, abs=1e-12)
        assert model.corr_pooled == pytest.approx(baseline.scores.corr_pooled, abs=1e-12)


def test_baseline_of_unseen_clips_is_none_with_reason(tmp_path: Path, mouse_folder_factory) -> None:
    folder = mouse_folder_factory(tmp_path, test_clips={("natural_movie_three", 1)})
    result = trial_average_baseline(folder, split="test")
    assert result.value is None and result.scores is None
    assert result.reason == UNSEEN_REASON
    assert result.unseen_clips == (("natural_movie_three", 1),)
    with pytest.raises(ValueError, match="natural_movie_three clip 1 has no 'train' repeats"):
        clip_trial_average(folder, "natural_movie_three", 1)


def test_sample_based_approach_gives_four_correlations(mouse_folder: Path) -> None:
    samples = read_samples(mouse_folder)
    rows = sample_baseline(mouse_folder, clip=0)
    assert [(r.movie, r.repeat) for r in rows] == [
        ("natural_movie_one", 8),
        ("natural_movie_one", 9),
        ("natural_movie_three", 8),
        ("natural_movie_three", 9),
    ]
    for row in rows:
        clip = [s for s in samples if (s["movie"], s["clip"]) == (row.movie, 0)]
        average = np.mean([s["responses"] for s in clip if s["split"] == "train"], axis=0)
        target = next(s["responses"] for s in clip if s["repeat"] == row.repeat)
        assert row.corr == pytest.approx(reference_corr(average, target), abs=1e-7)


def test_jackknife_oracle_equals_reference(mouse_folder: Path) -> None:
    samples = read_samples(mouse_folder)

    def expected(split: str | None) -> float:
        values = []
        for i, sample in enumerate(samples):
            if split is not None and sample["split"] != split:
                continue
            others = [
                s["responses"]
                for j, s in enumerate(samples)
                if j != i and (s["movie"], s["clip"]) == (sample["movie"], sample["clip"])
            ]
            assert len(others) == 9
            values.append(reference_corr(np.mean(others, axis=0), sample["responses"]))
        return float(np.mean(values))

    assert jackknife_oracle(mouse_folder, split="test").value == pytest.approx(
        expected("test"), abs=1e-7
    )
    everything = jackknife_oracle(mouse_folder)
    assert everything.sample_indices.size == 50
    assert everything.value == pytest.approx(expected(None), abs=1e-7)


def test_mouse_folder_errors_say_what_to_do(tmp_path: Path, mouse_folder: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist; rebuild"):
        MouseFolder(tmp_path / "nowhere")
    np.save(
        mouse_folder / "meta" / "trials" / "movie.npy",
        np.array(["natural_movie_one"] * 50, dtype=object),
        allow_pickle=True,
    )
    with pytest.raises(ValueError, match="movie.npy holds Python objects"):
        MouseFolder(mouse_folder)
