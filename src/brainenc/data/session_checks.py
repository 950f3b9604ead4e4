"""Plausibility checks of session arrays and of the samples a build is about to write.

A damaged NWB file (a bad download, a disk error) often still opens: its arrays then hold
infinities or absurd numbers, which imputation and normalisation would turn into NaN samples and
non-finite statistics. `check_recording` refuses such a session right after reading it, naming
the file and the array; NaN is accepted where the documented imputation fills it (missing
frames, eye-tracking gaps). `check_build_arrays` is the last gate before a mouse is written:
every sample and statistic must be finite after imputation.

Plausible ranges (generous: they reject bit rot, never a real recording):

| array | unit | range |
|---|---|---|
| corrected fluorescence | camera counts (16-bit frames; in-silico stimulus codes < 4e6) | abs <= 1e7 |
| running speed | cm/s | abs <= 1e4 |
| pupil size | pixels (area in the eye-tracking video) | 0 .. 1e7 |
| pupil location, spherical | degrees | abs <= 360 |
| pupil location, cm | cm | abs <= 1e3 |
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainenc.data.errors import ImplausibleDataError, SessionFileError
from brainenc.data.recording import Recording

PIPELINE = "processing/brain_observatory_pipeline"
FLUORESCENCE = (
    f"{PIPELINE}/Fluorescence/imaging_plane_1_demixed_signal and "
    f"{PIPELINE}/Fluorescence/imaging_plane_1_neuropil_response"
)
# name -> (where allensdk reads it, unit, lowest, highest)
RANGES = {
    "corrected fluorescence": (FLUORESCENCE, "counts", -1e7, 1e7),
    "running speed": (f"{PIPELINE}/BehavioralTimeSeries/running_speed", "cm/s", -1e4, 1e4),
    "pupil size": (f"{PIPELINE}/PupilTracking/pupil_size", "pixels", 0.0, 1e7),
    "pupil location (spherical)": (
        f"{PIPELINE}/EyeTracking/pupil_location_spherical",
        "degrees",
        -360.0,
        360.0,
    ),
    "pupil location (cm)": (f"{PIPELINE}/EyeTracking/pupil_location", "cm", -1e3, 1e3),
}
DAMAGED_HINT = (
    "The file is damaged (e.g. a corrupted download or disk); download it again, or exclude "
    "this session from data.build."
)


def check_recording(recording: Recording) -> None:
    """Refuse a session whose arrays are not plausible (see module docstring).

    Raises `ImplausibleDataError` naming the NWB file, the array and the first bad value.
    """
    source = recording.source
    check_timestamps(recording.timestamps, source)
    frames = recording.timestamps.size
    if recording.running_speed.shape != (frames,):
        raise ImplausibleDataError(
            f"NWB file {source}: running speed ({RANGES['running speed'][0]}) has "
            f"{recording.running_speed.shape[0]} samples for {frames} two-photon frames. "
            f"{DAMAGED_HINT}"
        )
    _check_range(source, "corrected fluorescence", recording.responses, ("neuron row", "frame"))
    _check_range(source, "running speed", recording.running_speed, ("frame",))
    if recording.pupil_size is not None:
        _check_range(source, "pupil size", recording.pupil_size, ("frame",))
    if recording.pupil_center is not None:
        units = "spherical" if recording.pupil_units == "spherical" else "cm"
        _check_range(
            source, f"pupil location ({units})", recording.pupil_center, ("frame", "column")
        )


def check_timestamps(timestamps: np.ndarray, source: Path) -> None:
    """Refuse two-photon frame times (T,) in seconds that are not finite and increasing."""
    frames = timestamps.size
    if frames < 2 or not np.all(np.isfinite(timestamps)) or np.any(np.diff(timestamps) <= 0):
        bad = _first_bad_timestamp(timestamps)
        raise ImplausibleDataError(
            f"NWB file {source}: the two-photon timestamps ({PIPELINE}/Fluorescence/"
            f"imaging_plane_1/timestamps, {frames} frames) are not finite and strictly "
            f"increasing (frame {bad}: {timestamps[bad] if frames else 'none'} s). {DAMAGED_HINT}"
        )


def check_build_arrays(
    arrays: dict[str, np.ndarray], statistics: dict[str, dict[str, np.ndarray]], sources: str
) -> None:
    """Refuse to write a mouse whose imputed samples or statistics are not all finite.

    Parameters
    ----------
    arrays
        Variable -> imputed samples, e.g. responses (S, N, T).
    statistics
        Variable -> {"mean", "std", "min", "max"} training statistics.
    sources
        The NWB files of the mouse, for the message.
    """
    named = dict(arrays)
    named.update(
        {
            f"{name} {stat}": value
            for name, stats in statistics.items()
            for stat, value in stats.items()
        }
    )
    bad = [f"{name} ({_count_bad(v)} non-finite)" for name, v in named.items() if _count_bad(v)]
    if bad:
        raise SessionFileError(
            f"building from {sources}: {', '.join(bad)} after imputing missing values; nothing "
            f"was written and any dataset already there is unchanged. {DAMAGED_HINT}"
        )


def _check_range(source: Path, name: str, values: np.ndarray, axes: tuple[str, ...]) -> None:
    location, unit, low, high = RANGES[name]
    with np.errstate(invalid="ignore"):
        bad = np.isinf(values) | (values < low) | (values > high)
    if not bad.any():
        return
    first = np.unravel_index(int(np.argmax(bad)), values.shape)
    where = ", ".join(f"{axis} {i}" for axis, i in zip(axes, first, strict=True))
    raise ImplausibleDataError(
        f"NWB file {source}: {name} ({location}) has {int(bad.sum())} value(s) outside the "
        f"plausible range [{low:g}, {high:g}] {unit} or infinite (first at {where}: "
        f"{values[first]!r}). {DAMAGED_HINT}"
    )


def _first_bad_timestamp(timestamps: np.ndarray) -> int:
    if timestamps.size == 0:
        return 0
    finite = np.isfinite(timestamps)
    if not finite.all():
        return int(np.argmin(finite))
    return int(np.argmax(np.diff(timestamps) <= 0)) + 1


def _count_bad(values: np.ndarray) -> int:
    return int(np.size(values) - np.count_nonzero(np.isfinite(values)))
