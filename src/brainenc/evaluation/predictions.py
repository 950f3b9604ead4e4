"""Scoring a run's predictions on a dataset split: ``<run_dir>/evaluation/metrics.json`` + figures.

Model, trial-average baseline and jackknife oracle are scored by one code path
(:func:`~brainenc.evaluation.scoring.score_predictions`) on the same frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from brainenc.data.mouse_folder import MouseFolder
from brainenc.digests import sha256_file
from brainenc.evaluation.baseline import jackknife_oracle, trial_average_baseline
from brainenc.evaluation.figures import (
    plot_correlation_histograms,
    plot_extreme_neuron_traces,
    plot_neuron_map,
)
from brainenc.evaluation.metrics import (
    DEFAULT_SKIP,
    DEFINITIONS,
    correlation_to_average,
    crop_to_scored,
    feve,
    mean_over_neurons,
    normalized_correlation,
)
from brainenc.evaluation.scoring import Scores, score_predictions
from brainenc.runs.folder import evaluation_figures_dir, write_evaluation

METRIC_PREFIX = {"train": "train", "validation": "val", "test": "test"}


def load_predictions(path: str | Path) -> dict[str, np.ndarray]:
    """Read a predictions ``.npz``: one ``(S, N, L)`` array per mouse id (the key).

    S runs over the split's samples in ascending sample index; L is the model output length
    (the last L frames of each clip, usually ``T - 24``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError) as error:
        raise ValueError(
            f"{path} is not a readable .npz of arrays keyed by mouse id: {error}"
        ) from error


def _repeated_clips(
    mouse: MouseFolder, indices: np.ndarray, predictions: np.ndarray, targets: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Group scored samples by clip, keeping clips with at least 2 repeats in the split."""
    rows_of_clip: dict[tuple[str, int], list[int]] = {}
    for row, index in enumerate(indices.tolist()):
        key = (str(mouse.trials.movie[index]), int(mouse.trials.clip[index]))
        rows_of_clip.setdefault(key, []).append(row)
    repeated = [rows for rows in rows_of_clip.values() if len(rows) >= 2]
    return [predictions[rows] for rows in repeated], [targets[rows] for rows in repeated]


def _write_figures(
    mouse: MouseFolder,
    indices: np.ndarray,
    split: str,
    figures_dir: Path,
    predictions: np.ndarray,
    targets: np.ndarray,
    first_frame: int,
    scores: Mapping[str, Scores | None],
    baseline_predictions: np.ndarray | None,
) -> dict[str, Path]:
    """Histogram (every scored predictor), traces and, when the folder has them, neuron map."""
    title = f"mouse {mouse.mouse_id}, {split} split"
    stem = figures_dir / mouse.mouse_id
    per_neuron = {label: s.per_neuron for label, s in scores.items() if s is not None}
    names = [
        f"{mouse.trials.movie[i]} clip {mouse.trials.clip[i]} repeat {mouse.trials.repeat[i]}"
        for i in indices.tolist()
    ]
    figures = {
        "histogram": plot_correlation_histograms(
            per_neuron, f"{stem}_correlation_histogram.png", title
        ),
        "traces": plot_extreme_neuron_traces(
            predictions,
            targets,
            f"{stem}_traces.png",
            first_frame,
            baseline=baseline_predictions,
            sample_names=names,
            normalisation=mouse.normalisation(),
        ),
    }
    projection, centres = mouse.max_projection(), mouse.roi_pixel_centers()
    if projection is not None and centres is not None:
        figures["neuron_map"] = plot_neuron_map(
            projection,
            centres,
            per_neuron["model"],
            f"{stem}_neuron_map.png",
            title=f"{title}: single-trial correlation per neuron",
        )
    return figures


def _evaluate_mouse(
    mouse: MouseFolder, predictions: np.ndarray, split: str, skip: int, figures_dir: Path
) -> tuple[dict[tuple[str, str], float | None], dict[str, Any]]:
    """Values keyed by (family, metric) (family "" for the model) and details of one mouse."""
    indices = mouse.select(split=split)
    expected = (indices.size, mouse.num_neurons)
    if predictions.ndim != 3 or predictions.shape[:2] != expected:
        raise ValueError(
            f"predictions for mouse {mouse.mouse_id} have shape {predictions.shape}; expected "
            f"({expected[0]}, {expected[1]}, frames): one row per {split!r} sample of "
            f"{mouse.folder}, in ascending sample order"
        )
    targets = mouse.stack_responses(indices)
    model = score_predictions(predictions, targets, skip)
    baseline = trial_average_baseline(mouse, split=split, skip=skip)
    oracle = jackknife_oracle(mouse, split=split, skip=skip)
    cropped_predictions = crop_to_scored(predictions, mouse.num_frames, skip)
    cropped_targets = crop_to_scored(targets, mouse.num_frames, skip)
    clips = _repeated_clips(mouse, indices, cropped_predictions, cropped_targets)
    repeated = clips[0] != []
    baseline_pooled = None if baseline.scores is None else baseline.scores.corr_pooled
    baseline_predictions = (
        None
        if baseline.predictions is None
        else crop_to_scored(baseline.predictions, mouse.num_frames, skip)
    )
    values: dict[tuple[str, str], float | None] = {
        ("", "corr"): model.corr,
        ("", "corr_pooled"): model.corr_pooled,
        ("", "corr_to_average"): (
            mean_over_neurons(correlation_to_average(*clips)) if repeated else None
        ),
        ("", "cc_norm"): mean_over_neurons(normalized_correlation(*clips)) if repeated else None,
        ("", "feve"): mean_over_neurons(feve(*clips)) if repeated else None,
        ("baseline", "corr"): baseline.value,
        ("baseline", "corr_pooled"): baseline_pooled,
        ("oracle", "corr"): oracle.value,
        ("oracle", "corr_pooled"): oracle.scores.corr_pooled,
    }
    figures = _write_figures(
        mouse,
        indices,
        split,
        figures_dir,
        cropped_predictions,
        cropped_targets,
        model.frames[0],
        {"model": model, "baseline": baseline.scores, "oracle": oracle.scores},
        baseline_predictions,
    )
    details = {
        "num_samples": int(indices.size),
        "frames": {
            "num_frames": mouse.num_frames,
            "scored": list(model.frames),
            "count": model.frames[1] - model.frames[0],
        },
        "baseline_reason": baseline.reason,
        "baseline_per_repeat": {str(repeat): v for repeat, v in baseline.per_repeat.items()},
        "unseen_clips": [list(key) for key in baseline.unseen_clips],
        "repeated_clips": len(clips[0]),
        "data_manifest": {
            "path": str(mouse.manifest_path),
            "sha256": mouse.manifest_sha256(),
        },
        "figures": {name: str(path) for name, path in figures.items()},
    }
    return values, details


def _mouse_folders(
    dataset: str | Path | Mapping[str, str | Path], mouse_ids: list[str]
) -> dict[str, MouseFolder]:
    if isinstance(dataset, Mapping):
        missing = sorted(set(mouse_ids) - set(dataset))
        if missing:
            raise ValueError(f"no dataset folder given for mice {missing}")
        return {m: MouseFolder(dataset[m]) for m in mouse_ids}
    return {m: MouseFolder(Path(dataset) / m) for m in mouse_ids}


def evaluate_predictions(
    predictions: Mapping[str, np.ndarray],
    dataset: str | Path | Mapping[str, str | Path],
    run_dir: str | Path,
    *,
    split: str = "test",
    skip: int = DEFAULT_SKIP,
    checkpoint: str | None = None,
    predictions_file: str | Path | None = None,
) -> dict[str, Any]:
    """Score predictions against a built dataset; write ``<run_dir>/evaluation/``.

    Parameters
    ----------
    predictions
        Mouse id -> ``(S, N, L)`` model outputs for the ``split`` samples of that mouse in
        ascending sample index, aligned to the last L frames of each clip.
    dataset
        Dataset root holding ``<mouse_id>/`` folders, or mouse id -> mouse folder.
    run_dir
        Run directory; results go to ``run_dir/evaluation/metrics.json`` and
        ``run_dir/evaluation/figures/*.png``.
    split
        ``train``, ``validation`` or ``test``.
    skip
        Frames left out at the clip start (at least 24, see ``scored_frames``).
    checkpoint
        Checkpoint the predictions came from (recorded).
    predictions_file
        File the predictions were read from (recorded with its sha256).

    Returns
    -------
    dict
        The metrics.json payload. Values are named ``<p>/corr/<mouse_id>``,
        ``baseline/<p>/corr/<mouse_id>``, ``oracle/<p>/corr/<mouse_id>`` (p = test, val or train)
        and likewise ``corr_pooled``, ``corr_to_average``, ``cc_norm``, ``feve``; without the
        mouse suffix: the mean over mice (None when any mouse has no value).
    """
    if split not in METRIC_PREFIX:
        raise ValueError(f"unknown split {split!r}; expected one of {tuple(METRIC_PREFIX)}")
    if not predictions:
        raise ValueError("no predictions given: expected one (S, N, L) array per mouse id")
    prefix = METRIC_PREFIX[split]
    folders = _mouse_folders(dataset, sorted(predictions))
    per_mouse_values, details = {}, {}
    for mouse_id, mouse in folders.items():
        per_mouse_values[mouse_id], details[mouse_id] = _evaluate_mouse(
            mouse, np.asarray(predictions[mouse_id]), split, skip, evaluation_figures_dir(run_dir)
        )
    values: dict[str, float | None] = {}
    for family, metric in per_mouse_values[next(iter(folders))]:
        key = "/".join(part for part in (family, prefix, metric) if part)
        per_mouse = [per_mouse_values[m][(family, metric)] for m in folders]
        for mouse_id, value in zip(folders, per_mouse, strict=True):
            values[f"{key}/{mouse_id}"] = value
        complete = all(value is not None for value in per_mouse)
        values[key] = float(np.mean(per_mouse)) if complete else None
    payload = {
        "values": values,
        "definitions": DEFINITIONS,
        "split": split,
        "skip": skip,
        "checkpoint": checkpoint,
        "predictions_file": None
        if predictions_file is None
        else {
            "path": str(predictions_file),
            "sha256": sha256_file(predictions_file),
        },
        "mice": details,
    }
    write_evaluation(run_dir, payload)
    return payload
