"""evaluate_predictions, the evaluate CLI and the baseline CLI on tiny mouse folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from brainenc.data.mouse_folder import MouseFolder
from brainenc.evaluate import main as evaluate_main
from brainenc.evaluation.__main__ import main as baseline_main
from brainenc.evaluation.baseline import trial_average_baseline
from brainenc.evaluation.predictions import evaluate_predictions
from brainenc.evaluation.scoring import score_predictions


def model_outputs(folder: Path, seed: int) -> np.ndarray:
    """(S, N, T - 24) outputs for the test samples: baseline-like but noisy."""
    baseline = trial_average_baseline(folder, split="test")
    noise = np.random.default_rng(seed).normal(scale=0.5, size=baseline.predictions.shape)
    return (baseline.predictions + noise)[..., 24:].astype(np.float32)


@pytest.fixture
def two_mice(tmp_path: Path, mouse_folder_factory) -> Path:
    root = tmp_path / "dataset"
    mouse_folder_factory(root, "A", seed=0)
    mouse_folder_factory(root, "B", num_neurons=4, seed=1)
    return root


def test_evaluate_predictions_writes_metrics_and_figures(two_mice: Path, tmp_path: Path) -> None:
    predictions = {m: model_outputs(two_mice / m, seed) for seed, m in enumerate("AB")}
    payload = evaluate_predictions(
        predictions, two_mice, tmp_path / "run", skip=30, checkpoint="checkpoints/best.ckpt"
    )
    values = payload["values"]
    for mouse_id in "AB":
        mouse = MouseFolder(two_mice / mouse_id)
        targets = mouse.stack_responses(mouse.select(split="test"))
        expected = score_predictions(predictions[mouse_id], targets, skip=30)
        assert values[f"test/corr/{mouse_id}"] == pytest.approx(expected.corr, abs=1e-12)
        assert values[f"test/corr_pooled/{mouse_id}"] == pytest.approx(expected.corr_pooled)
        baseline = trial_average_baseline(mouse, split="test", skip=30)
        assert values[f"baseline/test/corr/{mouse_id}"] == pytest.approx(baseline.value)
        details = payload["mice"][mouse_id]
        assert details["frames"] == {"num_frames": 40, "scored": [30, 40], "count": 10}
        assert details["repeated_clips"] == 5 and details["num_samples"] == 10
        assert set(details["baseline_per_repeat"]) == {"8", "9"}
        for figure in details["figures"].values():
            assert Path(figure).stat().st_size > 10_000
        assert set(details["figures"]) == {"histogram", "traces", "neuron_map"}
    assert values["test/corr"] == pytest.approx((values["test/corr/A"] + values["test/corr/B"]) / 2)
    for name in ("test/cc_norm", "test/feve", "test/corr_to_average", "oracle/test/corr"):
        assert isinstance(values[name], float)
    written = json.loads((tmp_path / "run" / "evaluation" / "metrics.json").read_text())
    assert written["values"] == pytest.approx(values)
    assert written["split"] == "test" and written["checkpoint"] == "checkpoints/best.ckpt"
    assert (
        written["mice"]["A"]["data_manifest"]["sha256"]
        == MouseFolder(two_mice / "A").manifest_sha256()
    )
    assert "corr_pooled" in written["definitions"]


def test_wrong_prediction_shape_is_explained(two_mice: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"expected \(10, 6, frames\)"):
        evaluate_predictions({"A": np.zeros((9, 6, 16))}, two_mice, tmp_path / "run")


def test_unseen_clips_give_null_baseline(tmp_path: Path, mouse_folder_factory) -> None:
    folder = mouse_folder_factory(tmp_path / "data", test_clips={("natural_movie_one", 0)})
    outputs = np.random.default_rng(0).normal(size=(10, 6, 16))
    payload = evaluate_predictions({"A": outputs}, tmp_path / "data", tmp_path / "run")
    assert payload["values"]["baseline/test/corr"] is None
    assert payload["mice"]["A"]["baseline_reason"] == "clips unseen in training"
    assert payload["values"]["oracle/test/corr"] is not None
    assert folder.is_dir()


def test_evaluate_cli_reads_dataset_dir_from_run(
    two_mice: Path, tmp_path: Path, run_dir_factory, capsys
) -> None:
    run = run_dir_factory(
        tmp_path / "run",
        {"data": {"root": str(two_mice)}, "evaluation": {"skip": 30}},
        {"checkpoint": "checkpoints/best.ckpt"},
    )
    npz = tmp_path / "predictions.npz"
    np.savez(npz, A=model_outputs(two_mice / "A", 0), B=model_outputs(two_mice / "B", 1))
    assert evaluate_main([str(run), "--predictions", str(npz)]) == 0
    assert "test/corr/A" in capsys.readouterr().out
    written = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert written["checkpoint"] == "checkpoints/best.ckpt"
    assert written["predictions_file"]["path"] == str(npz)
    assert written["skip"] == 30 and written["mice"]["B"]["frames"]["scored"] == [30, 40]
    assert evaluate_main([str(run), "--predictions", str(tmp_path / "missing.npz")]) == 1
    assert "missing.npz does not exist" in capsys.readouterr().err


def test_baseline_cli_prints_and_writes_json(mouse_folder: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "baseline.json"
    assert baseline_main(["baseline", str(mouse_folder), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads(out.read_text())
    assert len(summary["sample_based"]) == 4
    overall = summary["all_clips"]["corr"]
    assert overall == pytest.approx(trial_average_baseline(mouse_folder).value)
    assert f"overall     {overall:.4f}" in printed
    assert set(summary["oracle"]) == {"test", "all"}
