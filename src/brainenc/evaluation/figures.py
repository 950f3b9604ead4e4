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


CURVE_PANELS = {
    "train/loss": ("training loss", "loss (training objective, a.u.)"),
    "val/loss": ("validation loss", "loss (training objective, a.u.)"),
    "val/corr": ("validation correlation", "mean single-trial correlation (r)"),
}
"""Metric -> (panel title, y label) of the training-curves figure, in panel order."""

LINE_STYLES = ("-", "--", ":", "-.")


def training_curves_figure(
    histories: Mapping[str, MetricHistory], baseline: float | None = None
) -> Figure:
    """One panel per metric of :data:`CURVE_PANELS` that any run logged, one legend beside them.

    Parameters
    ----------
    histories
        Short run label -> its metric history (any of :data:`CURVE_PANELS` may be missing).
    baseline
        Validation score of the trial-average baseline, drawn as a dashed line if given.
    """
    metrics = [m for m in CURVE_PANELS if any(m in history for history in histories.values())]
    if not metrics:
        raise ValueError(f"no run logged any of {list(CURVE_PANELS)}")
    figure = Figure(figsize=(3.8 * len(metrics) + 2.5, 3.4), layout="constrained")
    panels = figure.subplots(1, len(metrics), squeeze=False)[0]
    for axes, metric in zip(panels, metrics, strict=True):
        for index, (label, history) in enumerate(histories.items()):
            if metric in history:
                epochs, values = history[metric]
                style = {"color": f"C{index % 10}", "linestyle": LINE_STYLES[index // 10 % 4]}
                axes.plot(epochs, values, marker="o", markersize=3, label=label, **style)
        if metric == "val/corr" and baseline is not None:
            axes.axhline(baseline, color="grey", linestyle="--", label="trial-average baseline")
        title, ylabel = CURVE_PANELS[metric]
        axes.set(xlabel="epoch", ylabel=ylabel, title=title)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
    legend = {}
    for axes in panels:
        legend.update(zip(*reversed(axes.get_legend_handles_labels()), strict=True))
    figure.legend(legend.values(), legend.keys(), loc="outside right upper", fontsize="small")
    return figure


def plot_training_curves(
    histories: Mapping[str, MetricHistory],
    path: str | Path,
    baseline: float | None = None,
) -> Path:
    """Write :func:`training_curves_figure` as a PNG at ``path``; returns ``path``."""
    return save_figure_atomic(training_curves_figure(histories, baseline), path)


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
    axes.set(
        xlabel="single-trial correlation per neuron (r)", ylabel="neurons (count)", title=title
    )
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return save_figure_atomic(figure, path)


RESPONSE_UNITS = {
    "seed": "response, z-scored per neuron (s.d.)",
    "viv1t": "response, viv1t-normalised (x 1/s.d. per neuron and frame)",
}
"""y label of response traces per response normalisation (``data.build.normalisation``)."""


def extreme_neurons(correlations: np.ndarray) -> dict[str, tuple[int, int]]:
    """The ``(neuron, sample)`` of each panel of :func:`plot_extreme_neuron_traces`.

    Neurons are ranked by their mean single-trial correlation over samples (NaN ignored); the
    best neuron is shown on its best-correlated sample, the median neuron on its median one,
    the worst neuron on its worst one.

    Parameters
    ----------
    correlations
        ``(S, N)`` single-trial correlations.

    Returns
    -------
    dict
        ``"best"``, ``"median"``, ``"worst"`` -> ``(neuron, sample)``.
    """
    correlations = np.asarray(correlations, dtype=np.float64)
    finite = np.isfinite(correlations)
    counts = finite.sum(axis=0)
    scores = np.where(finite, correlations, 0.0).sum(axis=0) / np.maximum(counts, 1)
    ranked = np.flatnonzero(counts > 0)
    if ranked.size == 0:
        raise ValueError("no neuron has a finite single-trial correlation (constant traces?)")
    ranked = ranked[np.argsort(scores[ranked], kind="stable")]
    picks = {"best": ranked[-1], "median": ranked[len(ranked) // 2], "worst": ranked[0]}
    chosen = {}
    for rank, neuron in picks.items():
        samples = np.flatnonzero(finite[:, neuron])
        order = samples[np.argsort(correlations[samples, neuron], kind="stable")]
        sample = {"best": order[-1], "median": order[len(order) // 2], "worst": order[0]}[rank]
        chosen[rank] = (int(neuron), int(sample))
    return chosen


def plot_extreme_neuron_traces(
    predictions: np.ndarray,
    targets: np.ndarray,
    path: str | Path,
    first_frame: int,
    frame_rate: float = 30.0,
    baseline: np.ndarray | None = None,
    sample_names: Sequence[str] | None = None,
    normalisation: str | None = None,
) -> Path:
    """Predicted vs recorded traces of the best, median and worst neurons (see
    :func:`extreme_neurons` for the neuron and sample of each panel).

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
    normalisation
        Response normalisation of the dataset (``seed``, ``viv1t``), named on the y axis.
    """
    correlations = per_trial_correlations(predictions, targets)
    seconds = (first_frame + np.arange(targets.shape[-1])) / frame_rate
    ylabel = RESPONSE_UNITS.get(
        str(normalisation), f"response, {normalisation or 'stored'} normalisation (a.u.)"
    )
    figure = Figure(figsize=(10, 7.5), layout="constrained")
    panels = figure.subplots(3, 1, sharex=True)
    for axes, (rank, (neuron, sample)) in zip(
        panels, extreme_neurons(correlations).items(), strict=True
    ):
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
            f"{rank} neuron {neuron} (mean r = {np.nanmean(correlations[:, neuron]):.3f}) on its "
            f"{rank} sample, {name}: r = {correlations[sample, neuron]:.3f}",
            fontsize="medium",
        )
        axes.grid(alpha=0.3)
    figure.supylabel(ylabel)
    panels[-1].set_xlabel("time in clip (s)")
    panels[0].legend(fontsize="small", loc="upper right")
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
