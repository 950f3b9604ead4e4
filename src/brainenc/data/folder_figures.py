"""Quality-control figures of one mouse: ROI masks, max projection and example traces (PNG).

Figures are drawn on `matplotlib.figure.Figure` objects (Agg canvas), never through pyplot, so
building a dataset does not touch the global backend of an interactive session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from brainenc.data.recording import Recording

EXAMPLE_NEURONS = 6


def roi_masks_figure(recording: Recording, path: Path) -> None:
    """All ROI masks overlaid (pixel value = number of masks covering it), with ROI centres.

    The centre markers are explained in the title, so no legend covers an ROI."""
    fig = Figure(figsize=(6, 6))
    ax = fig.subplots()
    image = ax.imshow(recording.roi_mask_count, cmap="magma", interpolation="nearest")
    x, y = recording.roi_pixel_centers.T
    ax.scatter(x, y, s=12, marker="+", linewidths=0.6, c="cyan")
    ax.set_title(
        f"{len(x)} ROI masks (cyan +: mask midpoints), experiment {recording.experiment_id}",
        fontsize="medium",
    )
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    fig.colorbar(image, ax=ax, fraction=0.046, label="masks per pixel (count)")
    _save(fig, path)


def max_projection_figure(recording: Recording, path: Path) -> None:
    """The session's maximum-intensity projection."""
    fig = Figure(figsize=(6, 6))
    ax = fig.subplots()
    image = ax.imshow(recording.max_projection, cmap="gray", interpolation="nearest")
    ax.set_title(f"maximum projection, experiment {recording.experiment_id}")
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    fig.colorbar(image, ax=ax, fraction=0.046, label="fluorescence intensity (a.u.)")
    _save(fig, path)


def example_traces_figure(recording: Recording, movie: str, clip_length: int, path: Path) -> None:
    """Corrected fluorescence of a few neurons over the first repeat of `movie`, clips shaded."""
    starts = recording.movies[movie].presentations.start[0]
    times = recording.timestamps - recording.timestamps[starts[0]]
    span = slice(int(starts[0]), int(starts[-1]) + 1)
    count = recording.responses.shape[0]
    neurons = np.unique(np.linspace(0, count - 1, min(EXAMPLE_NEURONS, count)).astype(int))
    fig = Figure(figsize=(10, 1.4 * len(neurons)))
    axes = fig.subplots(len(neurons), 1, sharex=True, squeeze=False)[:, 0]
    clips = range(1, len(starts) // clip_length, 2)
    for ax, neuron in zip(axes, neurons, strict=True):
        ax.plot(times[span], recording.responses[neuron, span], lw=0.7, color="k")
        for clip in clips:
            first, last = starts[clip * clip_length], starts[(clip + 1) * clip_length - 1]
            ax.axvspan(times[first], times[last], color="tab:blue", alpha=0.1)
        ax.set_ylabel(f"id {recording.cell_specimen_ids[neuron]}", fontsize=7)
    fig.supylabel("corrected fluorescence (a.u.), by cell specimen id")
    axes[0].set_title(
        f"corrected fluorescence, {movie} repeat 0 (shaded: every other {clip_length}-frame clip)"
    )
    axes[-1].set_xlabel("time from movie onset (s)")
    _save(fig, path)


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
