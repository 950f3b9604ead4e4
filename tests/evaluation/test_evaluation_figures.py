"""Every figure function writes a real PNG atomically and returns its path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brainenc.evaluation.figures import (
    extreme_neurons,
    plot_correlation_histograms,
    plot_extreme_neuron_traces,
    plot_neuron_map,
    plot_training_curves,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path, returned: Path) -> None:
    assert returned == path
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000, f"{path.name} is suspiciously small ({len(data)} bytes)"
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_training_curves(tmp_path: Path) -> None:
    epochs = np.arange(6)
    histories = {
        "lora8_fused": {
            "train/loss": (epochs, 1 / (epochs + 1.0)),
            "val/corr": (epochs, 0.01 * epochs),
        },
        "head_only": {"val/corr": (epochs, 0.005 * epochs)},
    }
    path = tmp_path / "curves.png"
    assert_png(path, plot_training_curves(histories, path, baseline=0.02))


def test_correlation_histograms(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "figures" / "histogram.png"
    returned = plot_correlation_histograms(
        {"model": rng.normal(0.3, 0.1, 200), "baseline": rng.normal(0.1, 0.1, 200)}, path, "A"
    )
    assert_png(path, returned)
    with pytest.raises(ValueError, match="at least one"):
        plot_correlation_histograms({}, path)


def test_best_median_worst_traces(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    targets = rng.normal(size=(4, 7, 116))
    predictions = targets * np.linspace(0, 1, 7)[None, :, None] + rng.normal(size=targets.shape)
    path = tmp_path / "traces.png"
    returned = plot_extreme_neuron_traces(
        predictions,
        targets,
        path,
        first_frame=24,
        baseline=targets.mean(axis=0, keepdims=True).repeat(4, axis=0),
        sample_names=[f"clip {i}" for i in range(4)],
        normalisation="viv1t",
    )
    assert_png(path, returned)


def test_neuron_map(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    path = tmp_path / "map.png"
    returned = plot_neuron_map(
        rng.random((128, 128)),
        rng.uniform(0, 127, (30, 2)),
        rng.normal(0, 0.2, 30),
        path,
        title="mouse A",
    )
    assert_png(path, returned)
    with pytest.raises(ValueError, match=r"\(30, 2\) \(x, y\) pixels"):
        plot_neuron_map(rng.random((8, 8)), np.zeros((29, 2)), np.zeros(30), path)


def test_best_neuron_is_shown_on_its_best_trial() -> None:
    # Neuron 1 has the best mean correlation (0.19), but its median trial scores r = -0.126;
    # neuron 3 is constant (no correlation) and is never picked.
    correlations = np.array(
        [
            [0.1, 0.9, -0.5, np.nan],
            [0.1, -0.2, -0.5, np.nan],
            [0.1, -0.126, -0.4, np.nan],
        ]
    )
    assert extreme_neurons(correlations) == {"best": (1, 0), "median": (0, 1), "worst": (2, 0)}
    with pytest.raises(ValueError, match="no neuron has a finite"):
        extreme_neurons(np.full((2, 3), np.nan))
