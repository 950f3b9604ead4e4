"""The noise ceiling of an in-silico mouse: its noise-free signal scored like a model.

The mouse folders are built by the real builder from the shared in-silico session (allensdk
reads the NWB file); the hand computations below re-derive the frames from allensdk's stimulus
table and the neurons from the truth file's cell specimen ids, independently of the module.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from brainenc.data.mouse_folder import MouseFolder
from brainenc.evaluation.__main__ import main as baseline_main
from brainenc.evaluation.baseline import jackknife_oracle, trial_average_baseline
from brainenc.evaluation.ceiling import NoNoiseFreeSignalError, noise_ceiling
from brainenc.insilico import session_config, truth_path

EXPERIMENT_A = session_config("A", "test").experiment_id
EXPERIMENT_B = session_config("B", "test").experiment_id
SCORED_FROM = 24  # default skip: frames 24..T-1 are scored


@pytest.fixture(scope="module")
def seed_folder(insilico_mouse_folder) -> Path:
    return insilico_mouse_folder("seed")


def hand_frames(nwb: Path, movie: str, repeat: int, clip: int, length: int) -> np.ndarray:
    """Acquisition frames of a clip straight from allensdk's stimulus table."""
    from allensdk.core.brain_observatory_nwb_data_set import BrainObservatoryNwbDataSet

    table = BrainObservatoryNwbDataSet(str(nwb)).get_stimulus_table(movie)
    rows = table[table["repeat"] == repeat].sort_values("frame")
    shown = rows[(rows["frame"] >= clip * length) & (rows["frame"] < (clip + 1) * length)]
    assert shown["frame"].tolist() == list(range(clip * length, (clip + 1) * length))
    return shown["start"].to_numpy()


def hand_normalised(folder: Path, clip: np.ndarray, normalisation: str) -> np.ndarray:
    """The builder's response normalisation written out (docs of brainenc.data.transforms)."""
    statistics = folder / "meta" / "statistics" / "responses"
    mean, std = np.load(statistics / "mean.npy"), np.load(statistics / "std.npy")
    if normalisation == "seed":
        return (clip - mean[:, None]) / std[:, None]
    floor = 0.01 * np.nanmean(std)
    return clip / np.where(std > floor, std, floor)


@pytest.mark.parametrize("normalisation", ["seed", "viv1t"])
def test_ceiling_is_the_noise_free_signal_scored_by_hand(
    insilico_mouse_folder, insilico_session: Path, normalisation: str
) -> None:
    folder = insilico_mouse_folder(normalisation)
    ceiling = noise_ceiling(folder, split="test")
    mouse = MouseFolder(folder)
    # One sample: natural_movie_three, clip 1, test repeat 9.
    index = int(mouse.select(split="test", movie="natural_movie_three", clip=1, repeat=9)[0])
    session_repeat = int(np.load(folder / "meta" / "trials" / "session_repeat.npy")[index])
    frames = hand_frames(
        insilico_session, "natural_movie_three", session_repeat, 1, mouse.num_frames
    )
    with np.load(truth_path(insilico_session)) as truth_file:
        position = {int(c): row for row, c in enumerate(truth_file["cell_specimen_ids"])}
        neurons = np.load(folder / "meta" / "neurons" / "cell_specimen_ids.npy")
        rows = [position[int(c)] for c in neurons]
        truth = truth_file["truth"][rows][:, frames].astype(np.float64)
    expected = hand_normalised(folder, truth, normalisation)
    row = int(np.flatnonzero(ceiling.sample_indices == index)[0])
    np.testing.assert_allclose(ceiling.predictions[row], expected, rtol=1e-4, atol=1e-4)
    recorded = mouse.responses(index)[:, SCORED_FROM:]
    by_hand = np.mean(
        [np.corrcoef(p, y)[0, 1] for p, y in zip(expected[:, SCORED_FROM:], recorded, strict=True)]
    )
    assert ceiling.scores.per_sample[row] == pytest.approx(by_hand, abs=1e-5)
    assert ceiling.num_samples == 10 and set(ceiling.per_repeat) == {8, 9}
    assert ceiling.truth_files == (truth_path(insilico_session),)


@pytest.mark.parametrize("split", ["test", "validation"])
def test_ceiling_is_above_the_baseline_and_the_oracle(seed_folder: Path, split: str) -> None:
    ceiling = noise_ceiling(seed_folder, split=split)
    baseline = trial_average_baseline(seed_folder, split=split)
    oracle = jackknife_oracle(seed_folder, split=split)
    # Seen on this mouse (test / validation): ceiling 0.393 / 0.370, baseline 0.279 / 0.312,
    # oracle 0.285 / 0.328. The oracle averages 9 noisy repeats; the truth has no noise at all.
    assert 0.0 < ceiling.value <= 1.0 and 0.0 < ceiling.pooled <= 1.0
    assert ceiling.value > oracle.value + 0.03 and ceiling.value > baseline.value + 0.03
    assert ceiling.pooled > oracle.scores.corr_pooled > 0.0
    np.testing.assert_array_equal(ceiling.sample_indices, baseline.sample_indices)


def test_ceiling_of_every_sample_uses_all_sessions_frames(seed_folder: Path) -> None:
    everything = noise_ceiling(seed_folder, split=None)
    assert everything.num_samples == MouseFolder(seed_folder).num_samples == 50
    assert set(everything.per_repeat) == set(range(10))
    assert everything.value > jackknife_oracle(seed_folder, split=None).value


def test_real_recordings_have_no_noise_ceiling(
    seed_folder: Path, insilico_session: Path, tmp_path: Path, mouse_folder: Path
) -> None:
    copy = shutil.copyfile(insilico_session, tmp_path / insilico_session.name)
    with pytest.raises(NoNoiseFreeSignalError, match="noise-free signal of a simulated") as error:
        noise_ceiling(seed_folder, sessions={EXPERIMENT_A: copy})
    assert str(truth_path(copy)) in str(error.value)
    with pytest.raises(NoNoiseFreeSignalError, match="lists no source sessions"):
        noise_ceiling(mouse_folder)


def test_session_of_another_mouse_is_refused(seed_folder: Path, insilico_cache: Path) -> None:
    other = insilico_cache / "ophys_experiment_data" / f"{EXPERIMENT_B}.nwb"
    with pytest.raises(ValueError, match="has no ROI with cell specimen ids"):
        noise_ceiling(seed_folder, sessions={EXPERIMENT_A: other})


def test_folder_that_does_not_match_its_session_is_refused(
    seed_folder: Path, tmp_path: Path
) -> None:
    folder = shutil.copytree(seed_folder, tmp_path / "A")
    mouse = MouseFolder(folder)
    first, second = mouse.select(split="test")[:2]
    np.save(folder / "data" / "responses" / f"{first}.npy", mouse.stack_responses([second])[0])
    with pytest.raises(ValueError, match=f"responses/{first}.npy differs from the session"):
        noise_ceiling(folder)


def test_baseline_command_prints_the_noise_ceiling(
    seed_folder: Path, mouse_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "summary.json"
    assert baseline_main(["baseline", str(seed_folder), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads(out.read_text())["noise_ceiling"]
    ceiling = noise_ceiling(seed_folder)
    assert summary["corr"] == pytest.approx(ceiling.value)
    assert summary["corr_pooled"] == pytest.approx(ceiling.pooled)
    assert summary["num_samples"] == 10 and set(summary["per_repeat"]) == {"8", "9"}
    line = f"noise ceiling (noise-free signal vs recorded): {ceiling.value:.4f}"
    assert line in printed and "jackknife oracle" in printed

    assert baseline_main(["baseline", str(mouse_folder), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "noise ceiling (noise-free signal vs recorded): n/a (no noise-free signal: real "
        "recording)" in printed
    )
    summary = json.loads(out.read_text())["noise_ceiling"]
    assert summary["corr"] is None and "lists no source sessions" in summary["detail"]
