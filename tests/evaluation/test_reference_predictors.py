"""Reference predictors: stimulus-blind control, ridge, stimulus-locked truth, all of them at once.

The ridge is checked on synthetic folders whose responses are planted by hand (not through the
module's feature code); the in-silico references on the mouse built by the real builder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from brainenc.data.mouse_folder import MouseFolder
from brainenc.evaluation.__main__ import main
from brainenc.evaluation.baseline import stimulus_blind_control, trial_average_baseline
from brainenc.evaluation.ceiling import noise_ceiling, stimulus_locked_truth
from brainenc.evaluation.references import (
    NO_SIGNAL_REASON,
    PREDICTORS,
    Reference,
    References,
    combine_references,
    fraction_of_ceiling,
    reference_scores,
)
from brainenc.evaluation.ridge import (
    LAMBDAS,
    fit_ridge,
    lagged_features,
    pooling_matrix,
    ridge_reference,
)
from brainenc.evaluation.scoring import score_predictions

NUM_FRAMES = 60


def write_inputs(folder: Path, planted: float, seed: int = 1) -> Path:
    """Give a tiny mouse folder videos, behaviour and pupil centres, and planted responses.

    Each clip has one video (36 x 64 white noise) shown in every repeat; behaviour and pupil
    centre are white noise per sample. Neuron n responds to the 4 x 4 block ``(n, n)`` of the
    pooled video averaged over frames ``t-5..t-3`` plus 0.5 x running speed at ``t``, times
    ``planted``, plus unit noise (``planted = 0``: pure noise).
    """
    rng = np.random.default_rng(seed)
    mouse = MouseFolder(folder)
    for sub in ("videos", "behavior", "pupil_center"):
        (folder / "data" / sub).mkdir(exist_ok=True)
    videos = {
        key: rng.normal(size=(1, NUM_FRAMES, 36, 64))
        for key in mouse.clip_keys(np.arange(mouse.num_samples))
    }
    for index in range(mouse.num_samples):
        video = videos[(str(mouse.trials.movie[index]), int(mouse.trials.clip[index]))]
        behavior = rng.normal(size=(2, NUM_FRAMES))
        signal = np.zeros((mouse.num_neurons, NUM_FRAMES))
        for n in range(mouse.num_neurons):
            block = video[0, :, 4 * n : 4 * n + 4, 4 * n : 4 * n + 4].mean(axis=(1, 2))
            for t in range(5, NUM_FRAMES):
                signal[n, t] = 4 * block[t - 5 : t - 2].mean() + 0.5 * behavior[1, t]
        responses = planted * signal + rng.normal(size=signal.shape)
        np.save(folder / "data" / "videos" / f"{index}.npy", video.astype(np.float32))
        np.save(folder / "data" / "behavior" / f"{index}.npy", behavior.astype(np.float32))
        np.save(
            folder / "data" / "pupil_center" / f"{index}.npy",
            rng.normal(size=(2, NUM_FRAMES)).astype(np.float32),
        )
        np.save(folder / "data" / "responses" / f"{index}.npy", responses.astype(np.float32))
    return folder


def test_stimulus_blind_control_predicts_one_profile_for_every_sample(mouse_folder: Path) -> None:
    mouse = MouseFolder(mouse_folder)
    control = stimulus_blind_control(mouse, split="test")
    train = mouse.select(split="train")
    profile = np.mean(
        [np.load(mouse_folder / "data" / "responses" / f"{i}.npy") for i in train], axis=0
    )
    assert control.predictions.shape == (10, 6, 40)
    for prediction in control.predictions:
        np.testing.assert_allclose(prediction, profile, atol=1e-6)
    np.testing.assert_array_equal(
        control.sample_indices, trial_average_baseline(mouse).sample_indices
    )
    targets = mouse.stack_responses(control.sample_indices)
    by_hand = score_predictions(np.broadcast_to(profile, targets.shape), targets)
    assert control.value == pytest.approx(by_hand.corr, abs=1e-6)
    assert control.scores.frames == (24, 40) and set(control.per_repeat) == {8, 9}


def test_pooling_and_lag_bins() -> None:
    np.testing.assert_allclose(pooling_matrix(36, 9)[1], [0] * 4 + [0.25] * 4 + [0] * 28)
    # Adaptive bins of 5 -> 2 overlap, as PyTorch's adaptive_avg_pool: [0, 3) and [2, 5).
    np.testing.assert_allclose(pooling_matrix(5, 2), [[1 / 3] * 3 + [0, 0], [0, 0] + [1 / 3] * 3])
    ramp = np.arange(20, dtype=np.float64)[:, None]  # feature value = frame index
    lagged = lagged_features(ramp)
    assert lagged.shape == (6, 5)  # frames 14..19, 5 bins
    # Bin k of frame t averages frames t-3k-2 .. t-3k, i.e. equals t - 3k - 1.
    np.testing.assert_allclose(lagged[0], [13, 10, 7, 4, 1])
    np.testing.assert_allclose(lagged[-1], [18, 15, 12, 9, 6])


def test_closed_form_matches_a_direct_solve() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 12)) * rng.uniform(0.5, 3, 12) + 1.0
    targets = rng.normal(size=(200, 3))
    fit = fit_ridge(features, targets)
    standardised = (features - features.mean(0)) / features.std(0)
    for penalty in (1.0, 100.0):
        direct = np.linalg.solve(
            standardised.T @ standardised + penalty * np.eye(12), standardised.T @ targets
        )
        np.testing.assert_allclose(fit.weights(penalty), direct, rtol=1e-8, atol=1e-10)
        expected = targets.mean(0) + standardised[:5] @ direct
        np.testing.assert_allclose(fit.predict(features[:5], (penalty,))[0], expected, atol=1e-10)


@pytest.mark.parametrize(
    ("planted", "expected"), [(2.0, "signal"), (0.0, "noise")], ids=["planted", "pure-noise"]
)
def test_ridge_recovers_a_planted_linear_model(
    tmp_path: Path, mouse_folder_factory, planted: float, expected: str
) -> None:
    folder = mouse_folder_factory(tmp_path, num_neurons=8, num_frames=NUM_FRAMES)
    ridge = ridge_reference(MouseFolder(write_inputs(folder, planted)), split="test")
    assert list(ridge.validation_curve) == list(LAMBDAS)
    assert ridge.num_features == 5 * (9 * 16 + 4)
    assert ridge.num_training_frames == 35 * (NUM_FRAMES - 14)
    assert ridge.result.predictions.shape == (10, 8, NUM_FRAMES - 14)
    assert ridge.result.scores.frames == (24, NUM_FRAMES)
    if expected == "signal":
        # signal variance 4 x (16 / 48 + 0.25) = 2.33, noise 1: a perfect fit scores ~0.84
        # (seen: 0.63 test, 0.64 validation at lambda 316; 0.53 at lambda 1e6)
        assert ridge.value > 0.55
        assert ridge.penalty <= 1e3
        assert ridge.validation_curve[1e6] < ridge.validation_curve[ridge.penalty] - 0.05
    else:
        # A flat validation curve: lambda is then arbitrary (ties go to the larger one).
        assert abs(ridge.value) < 0.06
        assert max(abs(v) for v in ridge.validation_curve.values()) < 0.06


def test_fraction_of_ceiling() -> None:
    assert fraction_of_ceiling(0.2, 0.4) == pytest.approx(0.5)
    assert fraction_of_ceiling(None, 0.4) is None
    assert fraction_of_ceiling(0.2, None) is None
    assert fraction_of_ceiling(0.2, 0.0) is None


@pytest.fixture(scope="module")
def insilico_seed(insilico_mouse_folder) -> Path:
    return insilico_mouse_folder("seed")


@pytest.fixture(scope="module")
def insilico_references(insilico_seed: Path) -> References:
    return reference_scores(insilico_seed, split="test")


def test_stimulus_locked_truth_averages_the_noise_free_signal_over_repeats(
    insilico_seed: Path, insilico_references: References
) -> None:
    mouse = MouseFolder(insilico_seed)
    truth = stimulus_locked_truth(mouse, split="test")
    everything = noise_ceiling(mouse, split=None)  # each sample's own noise-free signal
    for row, index in enumerate(truth.sample_indices.tolist()):
        movie, clip = str(mouse.trials.movie[index]), int(mouse.trials.clip[index])
        repeats = mouse.select(movie=movie, clip=clip)
        assert repeats.size == 10  # every split's repeats
        expected = everything.predictions[np.searchsorted(everything.sample_indices, repeats)]
        np.testing.assert_allclose(truth.predictions[row], expected.mean(axis=0), atol=1e-5)
    ceiling = noise_ceiling(mouse, split="test")
    # Behaviour-blind truth: below each trial's own noise-free signal, above the noisy average.
    assert 0.0 < truth.value <= ceiling.value
    assert truth.value > trial_average_baseline(mouse).value
    references = insilico_references.predictors
    assert references["stimulus_locked_truth"].corr == pytest.approx(truth.value, abs=1e-12)
    assert references["noise_ceiling"].corr == pytest.approx(ceiling.value, abs=1e-12)


def test_all_references_of_an_insilico_mouse(insilico_references: References) -> None:
    summary = insilico_references.as_dict()
    json.dumps(summary)  # JSON-ready
    assert summary["split"] == "test" and summary["scored_frames"] == [24, 140]
    assert summary["num_samples"] == 10
    values = {name: summary[name]["corr"] for name in PREDICTORS}
    assert all(isinstance(value, float) for value in values.values())
    ceiling = values["noise_ceiling"]
    assert summary["noise_ceiling"]["fraction_of_ceiling"] == pytest.approx(1.0)
    for name, value in values.items():
        assert summary[name]["fraction_of_ceiling"] == pytest.approx(value / ceiling)
        assert value <= ceiling + 1e-9, name
    assert summary["ridge"]["lambda"] in LAMBDAS
    assert set(summary["ridge"]["validation_corr"]) == {f"{x:g}" for x in LAMBDAS}


def test_references_of_a_real_recording_say_why_some_are_missing(mouse_folder: Path) -> None:
    references = reference_scores(mouse_folder, ridge=False)
    summary = references.as_dict()
    assert summary["baseline"]["corr"] == trial_average_baseline(mouse_folder).value
    assert summary["stimulus_blind"]["corr"] is not None
    assert summary["ridge"]["reason"] == "not computed (ridge=False)"
    for name in ("stimulus_locked_truth", "noise_ceiling"):
        assert summary[name]["corr"] is None and summary[name]["reason"] == NO_SIGNAL_REASON
    assert all(summary[name]["fraction_of_ceiling"] is None for name in PREDICTORS)


def test_references_of_unseen_clips(tmp_path: Path, mouse_folder_factory) -> None:
    folder = mouse_folder_factory(tmp_path, test_clips={("natural_movie_three", 1)})
    summary = reference_scores(folder, ridge=False).as_dict()
    assert summary["baseline"] == {
        "corr": None,
        "corr_pooled": None,
        "fraction_of_ceiling": None,
        "reason": "clips unseen in training",
    }
    assert summary["stimulus_blind"]["corr"] is not None


def references_of(folder: str, neurons: int, values: dict[str, float | None]) -> References:
    predictors = {
        name: Reference(value, value and value / 2, None if value is not None else "why")
        for name, value in values.items()
    }
    return References(Path(folder), "test", 24, (24, 140), 10, neurons, predictors)


def test_combining_mice_averages_like_the_model_scores() -> None:
    full = dict.fromkeys(PREDICTORS, 0.2)
    a = references_of("A", 100, {**full, "noise_ceiling": 0.4})
    b = references_of("B", 300, {**full, "baseline": 0.4, "noise_ceiling": None})
    combined = combine_references({"A": a, "B": b})
    assert combined["baseline"]["corr"] == pytest.approx(0.3)  # mean over mice
    assert combined["baseline"]["corr_pooled"] == pytest.approx((100 * 0.1 + 300 * 0.2) / 400)
    assert combined["noise_ceiling"] == {
        "corr": None,
        "corr_pooled": None,
        "fraction_of_ceiling": None,
        "reason": "B: why",
    }
    assert set(combined["mice"]) == {"A", "B"}
    assert combined["mice"]["A"]["baseline"]["fraction_of_ceiling"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least one mouse"):
        combine_references({})


def test_references_command(
    insilico_seed: Path,
    insilico_references: References,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    out = tmp_path / "references.json"
    assert main(["references", str(insilico_seed), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for label in PREDICTORS.values():
        assert label in printed
    ceiling = insilico_references.ceiling
    assert f"noise ceiling (in-silico)          {ceiling:.4f}" in printed
    assert json.loads(out.read_text()) == json.loads(json.dumps(insilico_references.as_dict()))

    assert main(["ridge", str(insilico_seed), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads(out.read_text())
    assert summary["corr"] == pytest.approx(insilico_references.predictors["ridge"].corr)
    assert "<- chosen" in printed and f"lambda {summary['lambda']:g})" in printed


def test_reference_commands_name_the_missing_folder(
    tmp_path: Path, mouse_folder: Path, capsys: pytest.CaptureFixture
) -> None:
    for command in ("references", "ridge"):
        assert main([command, str(tmp_path / "nowhere")]) == 1
        assert f"mouse folder {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    # A folder without videos cannot fit the ridge: the error names the missing file.
    assert main(["ridge", str(mouse_folder)]) == 1
    assert f"missing {mouse_folder / 'data' / 'videos'}" in capsys.readouterr().err
    assert main(["references", str(mouse_folder), "--no-ridge"]) == 0
    lines = capsys.readouterr().out.splitlines()
    ceiling = next(line for line in lines if line.startswith("noise ceiling (in-silico)"))
    assert ceiling.split()[3:] == ["n/a", "n/a", "n/a", *f"({NO_SIGNAL_REASON})".split()]


def test_score_table_puts_models_between_references_with_fractions_of_the_ceiling():
    from brainenc.evaluation.references import Reference, score_table

    references = {
        "baseline": Reference(0.02, 0.03),
        "stimulus_blind": Reference(0.001, 0.002),
        "ridge": Reference(None, None, "no validation samples to fit and choose lambda"),
        "stimulus_locked_truth": Reference(0.06, 0.07),
        "noise_ceiling": Reference(0.08, 0.1),
    }
    lines = score_table(references, {"model": 0.04}).splitlines()
    labels = [line.split("  ")[0] for line in lines[1:]]
    assert labels == [
        "trial-average baseline",
        "stimulus-blind control",
        "ridge (video + behaviour)",
        "model",
        "stimulus-locked truth (in-silico)",
        "noise ceiling (in-silico)",
    ]
    assert lines[4].split()[-2:] == ["0.0400", "0.500"]
    assert "n/a" in lines[3] and "no validation samples" in lines[3]
    assert lines[6].split()[-2:] == ["0.0800", "1.000"]
