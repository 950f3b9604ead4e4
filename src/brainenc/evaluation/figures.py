"""Evaluation figures as PNG files (matplotlib, Agg, no pyplot state).

Every function writes one PNG atomically and returns its path, so the trainer can also send
the file to wandb.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from brainenc.atomic_files import save_figure_atomic
from brainenc.evaluation.metrics import per_trial_correlations

MetricHistory = Mapping[str, tuple[np.ndarray, np.ndarray]]
"""Metric name -> (epochs, values) of one run, e.g. ``{"val/corr": (epochs, values)}``."""


def plot_training_curves(
    histories: Mapping[str, MetricHistory],
    path: str | Path,
    baseline: float | None = None,
) -> Path:
    """Training loss and validation correlation per epoch of compared runs.

    Parameters
    ----------
    histories
        Run label -> its metric history with ``train/loss`` and ``val/corr`` (either may be
        missing).
    path
        Output PNG.
    baseline
        Validation score of the trial-average baseline, drawn as a dashed line if given.
    """
    figure = Figure(figsize=(11, 4.2))
    loss_axes, corr_axes = figure.subplots(1, 2)
    for label, history in histories.items():
        for axes, name in ((loss_axes, "train/loss"), (corr_axes, "val/corr")):
            if name in history:
                epochs, values = history[name]
                axes.plot(epochs, values, marker="o", markersize=3, label=label)
    if baseline is not None:
        corr_axes.axhline(baseline, color="grey", linestyle="--", label="trial-average baseline")
    loss_axes.set(xlabel="epoch", ylabel="training loss", title="Training loss")
    corr_axes.set(xlabel="epoch", ylabel="val/corr", title="Validation single-trial correlation")
    for axes in (loss_axes, corr_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize="small")
    return save_figure_atomic(figure, path)


def plot_correlation_histograms(
    per_neuron: Mapping[str, np.ndarray], path: str | Path, title: str = ""
) -> Path:
    """Overlaid histograms of per-neuron correlations, e.g. model vs baseline.

    Parameters
    ----------
    per_neuron
        Predictor label -> ``(N,)`` per-neuron correlations.
    path
        Output PNG.
    title
        Figure title (e.g. the mouse and split).
    """
    if not per_neuron:
        raise ValueError("plot_correlation_histograms needs at least one set of correlations")
    values = {label: np.asarray(v, dtype=np.float64) for label, v in per_neuron.items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()])
    low, high = (finite.min(), finite.max()) if finite.size else (-1.0, 1.0)
    bins = np.linspace(min(low, 0.0), max(high, 0.0) + 1e-9, 31)
    figure = Figure(figsize=(6.5, 4.2))
    axes = figure.subplots()
    for (label, v), colour in zip(values.items(), ("C0", "C1", "C2", "C3", "C4"), strict=False):
        v = v[np.isfinite(v)]
        axes.hist(
            v,
            bins=bins,
            histtype="step",
            linewidth=1.8,
            color=colour,
            label=f"{label} (mean {v.mean():.4f})",
        )
        axes.axvline(v.mean(), color=colour, linestyle="--", linewidth=1)
    axes.set(xlabel="correlation per neuron", ylabel="neurons", title=title)
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return save_figure_atomic(figure, path)


def plot_extreme_neuron_traces(
    predictions: np.ndarray,
    targets: np.ndarray,
    path: str | Path,
    first_frame: int,
    frame_rate: float = 30.0,
    baseline: np.ndarray | None = None,
    sample_names: Sequence[str] | None = None,
) -> Path:
    """Predicted vs recorded traces of the best, median and worst neurons.

    Neurons are ranked by their mean single-trial correlation; each panel shows the sample whose
    correlation is closest to that neuron's median over samples (a typical trial).

    Parameters
    ----------
    predictions, targets
        ``(S, N, L)`` over the scored frames.
    path
        Output PNG.
    first_frame
        Clip frame index of the first scored frame (for the time axis).
    frame_rate
        Frames per second (Allen stimuli: 30 Hz).
    baseline
        Optional ``(S, N, L)`` baseline predictions drawn for comparison.
    sample_names
        Optional ``S`` labels (e.g. "natural_movie_one clip 0 repeat 8").
    """
    correlations = per_trial_correlations(predictions, targets)
    neuron_scores = correlations.mean(axis=0)
    order = np.argsort(neuron_scores)
    chosen = {"best": order[-1], "median": order[len(order) // 2], "worst": order[0]}
    seconds = (first_frame + np.arange(targets.shape[-1])) / frame_rate
    figure = Figure(figsize=(10, 7.5))
    for axes, (rank, neuron) in zip(
        figure.subplots(3, 1, sharex=True), chosen.items(), strict=True
    ):
        typical = np.abs(correlations[:, neuron] - np.median(correlations[:, neuron]))
        sample = int(np.argmin(typical))
        name = sample_names[sample] if sample_names is not None else f"sample {sample}"
        axes.plot(seconds, targets[sample, neuron], color="black", label="recorded")
        axes.plot(seconds, predictions[sample, neuron], color="C0", label="model")
        if baseline is not None:
            axes.plot(
                seconds,
                baseline[sample, neuron],
                color="grey",
                linestyle="--",
                label="trial average",
            )
        axes.set_title(
            f"{rank} neuron {neuron}: mean r = {neuron_scores[neuron]:.3f}; {name}, "
            f"r = {correlations[sample, neuron]:.3f}",
            fontsize="medium",
        )
        axes.set_ylabel("response")
        axes.grid(alpha=0.3)
    axes.set_xlabel("time in clip (s)")
    axes.legend(fontsize="small", loc="upper right")
    return save_figure_atomic(figure, path)


def plot_neuron_map(
    max_projection: np.ndarray,
    roi_pixel_centers: np.ndarray,
    values: np.ndarray,
    path: str | Path,
    title: str = "",
    label: str = "single-trial correlation",
) -> Path:
    """Neurons at their ROI centres over the max projection, coloured by ``values``.

    Parameters
    ----------
    max_projection
        ``(H, W)`` max projection of the imaging plane.
    roi_pixel_centers
        ``(N, 2)`` ROI centres as (x, y) pixels of the max projection.
    values
        ``(N,)`` per-neuron values (e.g. correlations), on a symmetric diverging colour scale.
    """
    image = np.asarray(max_projection, dtype=np.float64)
    centres = np.asarray(roi_pixel_centers, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"max projection must be (H, W), got {image.shape}")
    if centres.shape != (values.size, 2):
        raise ValueError(
            f"roi_pixel_centers must be ({values.size}, 2) (x, y) pixels for {values.size} "
            f"neurons, got {centres.shape}"
        )
    finite = values[np.isfinite(values)]
    limit = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
    figure = Figure(figsize=(6.5, 6.0))
    axes = figure.subplots()
    axes.imshow(image, cmap="gray")
    points = axes.scatter(
        centres[:, 0],
        centres[:, 1],
        c=values,
        cmap="coolwarm",
        vmin=-limit,
        vmax=limit,
        s=28,
        edgecolors="white",
        linewidths=0.5,
    )
    figure.colorbar(points, ax=axes, label=label, shrink=0.8)
    axes.set(title=title, xlabel="x (pixels)", ylabel="y (pixels)")
    return save_figure_atomic(figure, path)
