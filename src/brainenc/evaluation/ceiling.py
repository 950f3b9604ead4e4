"""Noise ceiling and stimulus-locked truth of an in-silico mouse, scored as if they were predictions.

A simulated session ``<id>.nwb`` has ``<id>.truth.npz`` beside it (``brainenc.insilico``):
``truth`` ``(N, T)``, the noise-free corrected fluorescence of every ROI in the NWB file's order
on the two-photon clock. The noise ceiling is the score of that signal against the recorded
responses of a built mouse folder, computed exactly like the model and the baselines: the same
samples, the same scored frames and the same metric code
(:func:`~brainenc.evaluation.scoring.score_predictions`).

The stimulus-locked truth (:func:`stimulus_locked_truth`) predicts each sample by the noise-free
signal averaged over every repeat of its ``(movie, clip)`` in the folder, whatever their split:
the part of the signal that the stimulus alone determines, i.e. the best any behaviour-blind model
can do. The noise ceiling also credits the behaviour-driven part of each trial's signal.

Each sample is traced back to its frames with the builder's own code: the session named in
``manifest.json`` (``sources``) is read through allensdk by ``brainenc.data.allen``, and a sample
``(experiment_id, movie, session_repeat, clip)`` takes the acquisition frames of
``brainenc.data.alignment.clip_acquisition_frames``; neurons are matched by cell specimen id. The recorded
responses at those frames are checked against the folder's ``data/responses``, so a ceiling is
never computed on frames other than the ones the model is scored on.

The truth clips are normalised with the folder's own response normalisation. Under ``seed``
(z-score per neuron) this changes no correlation; under ``viv1t`` (a scale per neuron and frame
index) it does, and the normalised truth is what a perfect model of the normalised responses would
output. Missing recorded values replaced by the builder's imputation stay in the targets, as they
do for the model; the truth itself has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainenc.data.alignment import clip_acquisition_frames
from brainenc.data.config import BuildConfig
from brainenc.data.mouse_folder import (
    NEURONS,
    REBUILD_CLAUSE,
    TRIALS,
    MouseFolder,
    as_mouse_folder,
    sample_file,
)
from brainenc.evaluation.baseline import (
    RepeatAverageResult,
    average_by_clip,
    clip_key,
    predict_by_clip,
    scored_result,
)
from brainenc.evaluation.metrics import DEFAULT_SKIP

# Relative and absolute tolerance between recomputed and stored normalised responses (float32).
ALIGNMENT_TOLERANCE = 1e-4


class NoNoiseFreeSignalError(FileNotFoundError):
    """The mouse folder's sessions have no noise-free signal (real recordings)."""


@dataclass(frozen=True)
class NoiseCeiling(RepeatAverageResult):
    """Score of the noise-free signal against the recorded responses of one split.

    The fields of :class:`~brainenc.evaluation.baseline.RepeatAverageResult` (``predictions``
    is the noise-free signal of each sample, normalised like the responses, or for the
    stimulus-locked truth its mean over the repeats of the sample's clip; ``scores`` is never
    None), plus ``truth_files``: the ``.truth.npz`` files used, one per session.
    """

    truth_files: tuple[Path, ...] = ()

    @property
    def pooled(self) -> float:
        """Mean pooled correlation (Sensorium 2023 definition)."""
        return self.scores.corr_pooled

    @property
    def num_samples(self) -> int:
        return int(self.sample_indices.size)


def session_files(
    mouse: MouseFolder, sessions: Mapping[int, str | Path] | None = None
) -> dict[int, Path]:
    """NWB file of every session of a mouse folder, by experiment id.

    Parameters
    ----------
    mouse
        Built mouse folder; its ``manifest.json`` lists the sessions it was built from.
    sessions
        Experiment id -> NWB path, overriding the manifest (e.g. for a cache that moved).
    """
    sources = mouse.manifest_entry("sources")
    if not sources:
        raise NoNoiseFreeSignalError(
            f"{mouse.manifest_path} lists no source sessions, so the noise-free signal of "
            f"{mouse.folder} cannot be "
            "found; a noise ceiling needs a folder built by `python -m brainenc.data.build` from "
            "simulated (brainenc.insilico) sessions"
        )
    files = {int(source["experiment_id"]): Path(source["path"]) for source in sources}
    files.update({int(key): Path(value) for key, value in (sessions or {}).items()})
    return files


def truth_files(
    mouse: MouseFolder, sessions: Mapping[int, str | Path] | None = None
) -> dict[int, Path]:
    """The noise-free signal file of every session of a mouse folder, by experiment id.

    Raises
    ------
    NoNoiseFreeSignalError
        When any session has no ``<stem>.truth.npz`` beside its NWB file (real Allen data).
    """
    from brainenc.insilico.session import truth_path

    found = {eid: truth_path(nwb) for eid, nwb in session_files(mouse, sessions).items()}
    missing = [str(path) for path in found.values() if not path.is_file()]
    if missing:
        raise NoNoiseFreeSignalError(
            f"{mouse.folder}: a noise ceiling needs the noise-free signal of a simulated session "
            "(`<session>.truth.npz` written by brainenc.insilico beside its NWB file); "
            f"looked for {', '.join(missing)} and found none. Real Allen recordings have no "
            "noise-free signal: use the jackknife oracle as their ceiling instead"
        )
    return found


def _load_truth(path: Path, cell_ids: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """``(N, T)`` float32 truth of ``path``, checked against the NWB file's ROIs and clock."""
    with np.load(path, allow_pickle=False) as content:
        truth = np.asarray(content["truth"], dtype=np.float32)
        times = content["timestamps"] if "timestamps" in content else None
        ids = content["cell_specimen_ids"] if "cell_specimen_ids" in content else None
    if truth.shape != (cell_ids.size, timestamps.size):
        raise ValueError(
            f"{path}: truth has shape {truth.shape}; its NWB file has {cell_ids.size} ROIs and "
            f"{timestamps.size} frames. The truth file belongs to another session: regenerate it "
            "with `python -m brainenc.insilico`"
        )
    if times is not None and not np.allclose(times, timestamps, atol=1e-6):
        raise ValueError(f"{path}: timestamps differ from those of its NWB file; regenerate both")
    if ids is not None and not np.array_equal(ids, cell_ids):
        raise ValueError(f"{path}: cell specimen ids differ from its NWB file's; regenerate both")
    if not np.isfinite(truth).all():
        raise ValueError(f"{path}: the noise-free signal holds non-finite values")
    return truth


def _neuron_rows(file_ids: np.ndarray, wanted: np.ndarray, source: Path) -> np.ndarray:
    position = {int(c): row for row, c in enumerate(file_ids)}
    absent = [int(c) for c in wanted if int(c) not in position]
    if absent:
        raise ValueError(
            f"{source} has no ROI with cell specimen ids {absent[:5]} of the mouse folder; the "
            f"folder was built from other sessions; {REBUILD_CLAUSE}"
        )
    return np.array([position[int(c)] for c in wanted], dtype=np.int64)


def noise_free_clips(
    mouse: MouseFolder,
    indices: np.ndarray,
    sessions: Mapping[int, str | Path] | None = None,
) -> tuple[np.ndarray, tuple[Path, ...]]:
    """Noise-free signal of the given samples, cut and normalised like their responses.

    Parameters
    ----------
    mouse
        Mouse folder built from simulated sessions.
    indices
        ``(S,)`` sample indices.
    sessions
        See :func:`session_files`.

    Returns
    -------
    clips, truth_paths
        ``(S, N, T)`` float32 clips and the truth files read.
    """
    from brainenc.data.allen import read_recording  # allensdk

    truths = truth_files(mouse, sessions)
    nwb_files = session_files(mouse, sessions)
    config = BuildConfig.from_mapping(mouse.manifest["config"])
    normaliser = mouse.normaliser()
    experiment_ids = mouse.meta_vector(f"{TRIALS}/experiment_id.npy")[indices]
    session_repeats = mouse.meta_vector(f"{TRIALS}/session_repeat.npy")[indices]
    neuron_ids = mouse.meta_vector(f"{NEURONS}/cell_specimen_ids.npy")
    clips = np.empty((len(indices), mouse.num_neurons, mouse.num_frames), dtype=np.float32)
    for experiment_id in np.unique(experiment_ids).tolist():
        if experiment_id not in nwb_files:
            raise ValueError(
                f"{mouse.folder}: samples come from experiment {experiment_id}, which the "
                f"manifest does not list among its sources {sorted(nwb_files)}; {REBUILD_CLAUSE}"
            )
        nwb = nwb_files[experiment_id]
        recording = read_recording(
            nwb,
            config.movies,
            config.frame_size,
            config.pupil_units,
            config.allow_missing_eye_tracking,
        )
        rows = _neuron_rows(recording.cell_specimen_ids, neuron_ids, nwb)
        truth = _load_truth(
            truths[experiment_id], recording.cell_specimen_ids, recording.timestamps
        )
        # float32 before normalising, as the builder does
        truth, recorded = truth[rows], recording.responses[rows].astype(np.float32)
        for position in np.flatnonzero(experiment_ids == experiment_id).tolist():
            index = int(indices[position])
            movie = str(mouse.trials.movie[index])
            frames = clip_acquisition_frames(
                recording.movies[movie].presentations,
                int(session_repeats[position]),
                int(mouse.trials.clip[index]),
                mouse.num_frames,
            )
            _check_alignment(mouse, index, normaliser.forward("responses", recorded[:, frames]))
            clips[position] = normaliser.forward("responses", truth[:, frames])
    return clips, tuple(truths[eid] for eid in np.unique(experiment_ids).tolist())


def _check_alignment(mouse: MouseFolder, index: int, recomputed: np.ndarray) -> None:
    """Refuse frames whose recorded responses are not the folder's sample ``index``."""
    stored = np.asarray(mouse.responses(index))
    finite = np.isfinite(recomputed)  # NaN there were imputed by the builder
    same = recomputed.shape == stored.shape and np.allclose(
        recomputed[finite], stored[finite], rtol=ALIGNMENT_TOLERANCE, atol=ALIGNMENT_TOLERANCE
    )
    if not same:
        raise ValueError(
            f"{mouse.folder}/{sample_file('responses', index)} differs from the session's "
            f"responses at the builder's frames ({mouse.num_frames} frames of its clip and "
            f"repeat); the folder was built from another version of its sessions; {REBUILD_CLAUSE}"
        )


def noise_ceiling(
    mouse: MouseFolder | str | Path,
    split: str | None = "test",
    skip: int = DEFAULT_SKIP,
    sessions: Mapping[int, str | Path] | None = None,
) -> NoiseCeiling:
    """Score the noise-free signal of an in-silico mouse like a model prediction.

    Parameters
    ----------
    mouse
        Mouse folder built from simulated sessions.
    split
        Scored samples (None: every sample).
    skip
        See :func:`~brainenc.evaluation.metrics.scored_frames`.
    sessions
        Experiment id -> NWB path, overriding the manifest's; the truth file is beside it.

    Raises
    ------
    NoNoiseFreeSignalError
        When a session has no noise-free signal (real Allen data), naming where it looked.
    """
    mouse, indices = _split_samples(mouse, split)
    clips, paths = noise_free_clips(mouse, indices, sessions)
    return _ceiling(mouse, split, indices, clips, paths, skip)


def _split_samples(
    mouse: MouseFolder | str | Path, split: str | None
) -> tuple[MouseFolder, np.ndarray]:
    mouse = as_mouse_folder(mouse)
    return mouse, mouse.split_samples(split)


def _ceiling(
    mouse: MouseFolder,
    split: str | None,
    indices: np.ndarray,
    clips: np.ndarray,
    paths: tuple[Path, ...],
    skip: int,
) -> NoiseCeiling:
    result = scored_result(mouse, split, indices, clips, skip)
    return NoiseCeiling(split, indices, clips, result.scores, result.per_repeat, truth_files=paths)


def noise_free_references(
    mouse: MouseFolder | str | Path,
    split: str | None = "test",
    skip: int = DEFAULT_SKIP,
    sessions: Mapping[int, str | Path] | None = None,
) -> tuple[NoiseCeiling, NoiseCeiling]:
    """The noise ceiling and the stimulus-locked truth of ``split``, from one read of the sessions.

    Parameters are those of :func:`noise_ceiling`.

    Returns
    -------
    ceiling, truth
        :func:`noise_ceiling` and :func:`stimulus_locked_truth` of the same samples.
    """
    mouse, indices = _split_samples(mouse, split)
    keys = set(mouse.clip_keys(indices))
    sources = np.array(
        [i for i in range(mouse.num_samples) if clip_key(mouse, i) in keys], dtype=np.int64
    )
    clips, paths = noise_free_clips(mouse, sources, sessions)
    own = clips[np.searchsorted(sources, indices)]
    ceiling = _ceiling(mouse, split, indices, own, paths, skip)
    locked = predict_by_clip(mouse, indices, average_by_clip(mouse, sources, clips))
    return ceiling, _ceiling(mouse, split, indices, locked, paths, skip)


def stimulus_locked_truth(
    mouse: MouseFolder | str | Path,
    split: str | None = "test",
    skip: int = DEFAULT_SKIP,
    sessions: Mapping[int, str | Path] | None = None,
) -> NoiseCeiling:
    """Score the repeat-averaged noise-free signal of each clip against the recorded ``split``.

    Each sample is predicted by the mean of the noise-free signal (normalised like the
    responses) over every repeat of its ``(movie, clip)`` in the folder, all splits included;
    scored like a model. ``predictions`` of the result hold these clip averages.

    Parameters and errors are those of :func:`noise_ceiling`.
    """
    return noise_free_references(mouse, split, skip, sessions)[1]
