"""Missing-value imputation and normalisation statistics, from the training split only.

Statistics per variable are `mean`, `std` (ddof 0), `min` and `max` over training samples:

- mode `seed`: pooled over samples and frames; video scalars (), behavior and pupil_center per
  channel (2,), responses per neuron (N,).
- mode `viv1t`: per frame index (ViV1T `transform_mode=2` "trial" statistics); video
  (T, h, w), behavior and pupil_center (2, T), responses (N, T).
"""

from __future__ import annotations

import numpy as np

from brainenc.data.errors import MissingDataError
from brainenc.data.mouse_folder import STATISTICS
from brainenc.data.samples import SampleSet

VARIABLES = ("video", "behavior", "pupil_center", "responses")


def impute_missing(
    samples: SampleSet, names: dict[str, list[str]], sources: str = "the sessions"
) -> tuple[SampleSet, dict[str, dict[str, object]]]:
    """Replace NaN by the training mean: per channel (behavior, pupil_center), per neuron.

    Non-finite values (NaN, and infinities, which `session_checks` refuses earlier) are missing;
    only finite training values enter the means.

    Parameters
    ----------
    names
        Readable label of every channel / neuron of "behavior", "pupil_center" and
        "responses", used in errors (e.g. cell specimen ids).
    sources
        The NWB files the samples come from, used in errors.

    Returns
    -------
    The filled samples and, per variable, the fill values and the number of NaN replaced.
    """
    train = samples.mask("train")
    filled, report = {}, {}
    for name in ("behavior", "pupil_center", "responses"):
        values = getattr(samples, name)
        finite = np.isfinite(values[train])
        counts = finite.sum(axis=(0, 2))
        totals = np.where(finite, values[train], 0.0).sum(axis=(0, 2))
        means = np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            labels = [names[name][i] for i in empty[:5]]
            raise MissingDataError(
                f"{sources}: {name}: {empty.size} channel(s)/neuron(s) have no finite value in "
                f"the training split ({', '.join(labels)}{', ...' if empty.size > 5 else ''}). The session "
                "data are damaged or missing there; exclude the session, or the affected "
                "neurons with the source file repaired."
            )
        missing = ~np.isfinite(values)
        filled[name] = np.where(missing, means[None, :, None], values).astype(np.float32)
        report[name] = {"fill_values": means.tolist(), "replaced": int(missing.sum())}
    return samples.with_arrays(**filled), report


def compute_statistics(samples: SampleSet, mode: str) -> dict[str, dict[str, np.ndarray]]:
    """Training-split statistics of every variable (see module docstring for shapes).

    Returns
    -------
    variable -> {"mean", "std", "min", "max"} float32 arrays.
    """
    per_frame = {"seed": False, "viv1t": True}[mode]
    train = samples.mask("train")
    if not train.any():
        raise ValueError("the training split is empty; check data.build.splits.train.")
    stats = {"video": _video_statistics(samples, train, per_frame)}
    for name in ("behavior", "pupil_center", "responses"):
        values = getattr(samples, name)[train].astype(np.float64)
        axes = (0,) if per_frame else (0, 2)
        stats[name] = {
            "mean": values.mean(axis=axes),
            "std": values.std(axis=axes),
            "min": values.min(axis=axes),
            "max": values.max(axis=axes),
        }
    return {
        k: {s: np.asarray(v[s], dtype=np.float32) for s in STATISTICS} for k, v in stats.items()
    }


def _video_statistics(samples: SampleSet, train: np.ndarray, per_frame: bool) -> dict:
    """Statistics over training samples, weighting each distinct clip by its sample count."""
    weights = np.bincount(samples.video_index[train], minlength=len(samples.video_clips))
    used = weights > 0
    clips = samples.video_clips[used].astype(np.float64)
    w = (weights[used] / weights[used].sum())[:, None, None, None]
    if per_frame:
        mean = (w * clips).sum(axis=0)
        var = (w * (clips - mean) ** 2).sum(axis=0)
        return {"mean": mean, "std": np.sqrt(var), "min": clips.min(0), "max": clips.max(0)}
    frame_w = w / (clips[0].size)
    mean = (frame_w * clips).sum()
    var = (frame_w * (clips - mean) ** 2).sum()
    return {"mean": mean, "std": np.sqrt(var), "min": clips.min(), "max": clips.max()}
