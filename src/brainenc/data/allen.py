"""Reading Allen Brain Observatory NWB 1.x sessions through allensdk (imported lazily).

This and `allen_cache.py` are the only modules that import allensdk; training code never does.
allensdk quirks handled here (see docs/allen-nwb spec): `get_running_speed` returns
(speed, timestamps) in that order; the stimulus template is memoized per dataset object and
shared, so it is never modified and the memo is cleared after downsampling; eye-tracking
series have their own clock and are aligned by timestamp (`alignment.align_series`).
"""

from __future__ import annotations

import datetime as dt
import importlib
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from brainenc.data.alignment import align_series, movie_presentations
from brainenc.data.coordinates import roi_pixel_centers
from brainenc.data.errors import (
    IncompleteRepeatsError,
    MissingDataError,
    MissingTracesError,
    NoEyeTrackingError,
    SessionFileError,
    UnreadableSessionError,
    WrongSessionTypeError,
)
from brainenc.data.frames import resize_movie
from brainenc.data.recording import Movie, Recording
from brainenc.data.session_checks import check_recording, check_timestamps

# Groups every Brain Observatory NWB 1.x ophys file has (docs: ../shared/spec/allen-nwb.md).
BRAIN_OBSERVATORY_GROUPS = ("general/session_type", "processing", "stimulus/presentation")
INSTALL_HINT = 'Install the data extra: pip install -e ".[data]"'


def allensdk_module(name: str) -> ModuleType:
    """Import allensdk (or a module built on it), explaining how to install it if that fails."""
    try:
        with warnings.catch_warnings():  # allensdk's own deprecation noise, nothing to act on
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(
            f"building datasets needs allensdk 2.16.2 ({name} could not be imported: {error}). "
            f"{INSTALL_HINT}"
        ) from error


def open_session(path: Path) -> Any:
    """`BrainObservatoryNwbDataSet` for `path`, with clear errors for missing or broken files."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableSessionError(f"NWB file {path} does not exist.")
    nwb = allensdk_module("allensdk.core.brain_observatory_nwb_data_set")
    try:
        session = nwb.BrainObservatoryNwbDataSet(str(path))
    except OSError as error:
        raise UnreadableSessionError(
            f"NWB file {path} cannot be read ({error}); it is probably truncated (an interrupted "
            "download, which allensdk's cache silently reuses) or not an NWB file. Delete it "
            "and download it again."
        ) from error
    _check_brain_observatory_layout(path)
    return session


def _check_brain_observatory_layout(path: Path) -> None:
    """Refuse HDF5 files that are not Brain Observatory NWB 1.x sessions, naming what is absent."""
    import h5py

    try:
        with h5py.File(path, "r") as file:
            absent = [group for group in BRAIN_OBSERVATORY_GROUPS if group not in file]
    except (OSError, RuntimeError, KeyError, ValueError) as error:
        raise UnreadableSessionError(
            f"NWB file {path} cannot be read ({error}); its HDF5 structure is damaged. Delete "
            "it and download it again."
        ) from error
    if absent:
        raise UnreadableSessionError(
            f"NWB file {path} is HDF5 but not an Allen Brain Observatory NWB 1.x session: it has "
            f"no {', '.join(absent)}. Use an ophys experiment file from the BrainObservatoryCache "
            "(ophys_experiment_data/<id>.nwb)."
        )


def check_session_type(recording: Recording, session_types: tuple[str, ...]) -> None:
    """Refuse a session whose ``/general/session_type`` is not in ``session_types``."""
    found = recording.metadata.get("session_type")
    if found not in session_types:
        raise WrongSessionTypeError(
            f"NWB file {recording.source} is a {found!r} session; data.build.selection."
            f"session_types accepts {list(session_types)}. Use a session of an accepted type, or "
            "add this type to data.build.selection.session_types if its movies are what you want."
        )


def read_recording(
    path: Path,
    movies: tuple[str, ...],
    frame_size: tuple[int, int],
    pupil_units: str,
    allow_missing_eye_tracking: bool,
) -> Recording:
    """Read everything the dataset needs from one session (see `Recording` for shapes).

    Every array is checked for plausibility (`session_checks.check_recording`); errors of
    h5py or allensdk on a damaged file become `UnreadableSessionError` naming the file.
    """
    path = Path(path)
    session = open_session(path)
    try:
        recording = _read(
            session, path, movies, frame_size, pupil_units, allow_missing_eye_tracking
        )
    except SessionFileError:
        raise
    except (KeyError, OSError, RuntimeError, ValueError, TypeError, IndexError) as error:
        raise UnreadableSessionError(
            f"NWB file {path} lacks data allensdk expects or cannot be decoded ({error!r}); the "
            "file is damaged or not a Brain Observatory session. Delete it and download it again."
        ) from error
    check_recording(recording)
    return recording


def _read(session, path, movies, frame_size, pupil_units, allow_missing_eye_tracking) -> Recording:
    metadata = _json_metadata(session.get_metadata())
    timestamps, responses = _corrected_traces(session, path)
    check_timestamps(timestamps, path)  # allensdk aligns the running speed to them
    cell_ids = np.asarray(session.get_cell_specimen_ids(), dtype=np.int64)
    _check_finite_neurons(responses, cell_ids, path)
    speed, _ = session.get_running_speed()  # allensdk returns (speed, timestamps)
    speed = np.asarray(speed, dtype=np.float64)[: timestamps.size]
    size, center = _eye_tracking(session, path, timestamps, pupil_units, allow_missing_eye_tracking)
    masks = session.get_roi_mask_array()
    try:
        centers = roi_pixel_centers(masks)
    except ValueError as error:
        raise SessionFileError(f"NWB file {path}: {error} The segmentation is damaged.") from error
    available = session.list_stimuli()
    return Recording(
        source=path,
        experiment_id=int(metadata.get("ophys_experiment_id", -1)),
        metadata=metadata,
        timestamps=timestamps,
        responses=responses,
        cell_specimen_ids=cell_ids,
        running_speed=speed,
        pupil_size=size,
        pupil_center=center,
        pupil_units=pupil_units,
        roi_pixel_centers=centers,
        roi_mask_count=(masks > 0).sum(axis=0).astype(np.uint16),
        max_projection=np.asarray(session.get_max_projection(), dtype=np.float32),
        movies={
            name: _movie(session, path, name, frame_size, timestamps.size)
            for name in movies
            if name in available
        },
    )


def _corrected_traces(session, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        timestamps, traces = session.get_corrected_fluorescence_traces()
    except KeyError as error:
        raise MissingTracesError(
            f"NWB file {path} has no demixed signal (Fluorescence/imaging_plane_1_demixed_signal,"
            f" {error!r}), so allensdk cannot compute corrected fluorescence traces. Some "
            "released files lack it (e.g. experiment 507691476); choose another experiment."
        ) from error
    timestamps = np.asarray(timestamps, dtype=np.float64)
    traces = np.asarray(traces, dtype=np.float64)
    if traces.ndim != 2 or traces.shape[1] != timestamps.size:
        raise MissingTracesError(
            f"NWB file {path}: corrected traces have shape {traces.shape}, expected "
            f"(neurons, {timestamps.size}) to match the fluorescence timestamps."
        )
    return timestamps, traces


def _check_finite_neurons(responses: np.ndarray, cell_ids: np.ndarray, path: Path) -> None:
    empty = np.flatnonzero(~np.isfinite(responses).any(axis=1))
    if empty.size:
        raise MissingDataError(
            f"NWB file {path}: {empty.size} neuron(s) have no finite corrected fluorescence "
            f"value (cell specimen ids {cell_ids[empty[:5]].tolist()}, rows {empty[:5].tolist()})."
            " The file is damaged; download it again or choose another experiment."
        )


def _eye_tracking(session, path, timestamps, pupil_units, allow_missing):
    """Pupil size (T,) and location (T, 2) on the two-photon clock, or (None, None)."""
    exceptions = allensdk_module("allensdk.brain_observatory.brain_observatory_exceptions")
    try:
        size_t, size = session.get_pupil_size()
        location_t, location = session.get_pupil_location(as_spherical=pupil_units == "spherical")
    except exceptions.NoEyeTrackingException as error:
        if allow_missing:
            return None, None
        raise NoEyeTrackingError(
            f"NWB file {path} has no eye tracking ({error}). Pupil size and position are model "
            "inputs; pick a session with eye tracking (selection.require_eye_tracking=true) or "
            "set data.build.allow_missing_eye_tracking=true to use constant pupil inputs."
        ) from error
    size = align_series(size_t, size, timestamps, "pupil_size", path)
    location = align_series(location_t, location, timestamps, "pupil_location", path)
    return size.reshape(-1), location


def _movie(session, path: Path, name: str, frame_size, n_frames: int) -> Movie:
    template_reader = type(session).get_stimulus_template
    try:
        frames = resize_movie(session.get_stimulus_template(name), frame_size)
    finally:
        template_reader.cache_clear()
    try:
        table = session.get_stimulus_table(name)
    except ValueError as error:  # allensdk's positional repeat count needs whole repeats
        raise IncompleteRepeatsError(
            f"NWB file {path}: the {name} stimulus table does not hold whole repeats of its "
            f"{frames.shape[0]}-frame template (allensdk: {error}). The session was probably cut "
            "short; exclude it or drop the movie from data.build.movies."
        ) from error
    presentations = movie_presentations(
        name,
        table["frame"].to_numpy(),
        table["start"].to_numpy(),
        table["end"].to_numpy(),
        frames.shape[0],
        n_frames,
        path,
    )
    return Movie(frames=frames, presentations=presentations)


def _json_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat()
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, bytes):
            return value.decode(errors="replace")
        return value if isinstance(value, str | int | float | bool | type(None)) else str(value)

    return {key: plain(value) for key, value in metadata.items()}
