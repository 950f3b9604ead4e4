"""Reading a built mouse folder: the one module that opens its files (read-only).

The folder contract of docs/design.md ("Contract: built dataset folder")::

    <root>/<mouse_id>/data/{videos,behavior,pupil_center,responses}/<i>.npy
        float32 video (1, T, H, W), behavior (2, T), pupil_center (2, T), responses (N, T)
    meta/trials/{movie,clip,repeat,split,session_repeat,experiment_id}.npy     (S,) per sample
    meta/neurons/{cell_specimen_ids,coordinates,imaging_depth,roi_pixel_centers,
                  mean_responses}.npy                                         (N, ...) per neuron
    meta/session/max_projection.npy                                           (H, W)
    meta/statistics/<videos|behavior|pupil_center|responses>/{mean,std,min,max}.npy
    manifest.json     build settings, counts, and bytes, shape, dtype and sha256 of every array
    .verified.json    (size, mtime ns, sha256) of the files whose sha256 was already checked

The names of this layout (:data:`MANIFEST`, :data:`VERIFIED`, :data:`FOLDERS`, :data:`SPLITS`,
...) are defined here and shared with the writer, :mod:`brainenc.data.writer`. This module
imports NumPy only (torch on first :meth:`MouseFolder.normaliser`), so scoring needs neither
torch nor the builder.

:class:`MouseFolder` opens a folder at one of two levels:

- ``MouseFolder(folder)``, what scoring reads: the trials table and memory-mapped samples, with
  no manifest needed; errors are ``FileNotFoundError`` or ``ValueError`` naming the file.
- ``MouseFolder(folder, verify=mode)``, what training reads (``MouseDataset``): before any sample
  is read it checks the manifest's structure, the shape it records for every sample file against
  the mouse's (N neurons, T frames, frame size), the files themselves (:func:`verify_folder`,
  unless ``verify="none"``) and the trials table (one entry per sample, known split labels, the
  manifest's counts per split); :meth:`MouseFolder.arrays` checks each sample read for its shape
  and for NaN or infinities. Errors are :class:`~brainenc.data.errors.DatasetIntegrityError`.

Verification checks sizes always and sha256 on demand; with ``cache``, a file's sha256 is
computed once and remembered in ``.verified.json`` by its (size, mtime) stamp, so an edit that
keeps the size (which changes the mtime) is caught at the next open while unchanged files cost
one ``stat``. The builder seeds that file (:func:`remember_verified`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from brainenc.atomic_files import write_json_atomic
from brainenc.data.errors import DatasetIntegrityError
from brainenc.digests import sha256_file

if TYPE_CHECKING:
    from brainenc.data.transforms import Normaliser

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
VERIFIED = ".verified.json"
TRIALS = "meta/trials"
NEURONS = "meta/neurons"
SESSION = "meta/session"
STATISTICS_DIR = "meta/statistics"
# Sample dict key -> folder name under data/ and meta/statistics/.
FOLDERS = {
    "video": "videos",
    "behavior": "behavior",
    "pupil_center": "pupil_center",
    "responses": "responses",
}
STATISTICS = ("mean", "std", "min", "max")
SPLITS = ("train", "validation", "test")
FORMAT_VERSION = 1
VERIFY_MODES = ("none", "size", "cached", "hash")
# Stamps younger than this when the cache is written are not trusted: a same-size edit within
# the file system's timestamp granularity would keep the mtime (git's "racy" entries).
RACY_NS = 2_000_000_000
REBUILD_HINT = (
    "Rebuild it with `python -m brainenc.data.build data.build.overwrite=true` "
    "(or delete the folder and run the build again)."
)
REBUILD_CLAUSE = "rebuild it with `python -m brainenc.data.build`"


def sample_file(name: str, index: int) -> str:
    """Path of sample ``index``'s array ``name`` (a key of :data:`FOLDERS`) in a mouse folder."""
    return f"data/{FOLDERS[name]}/{index}.npy"


@dataclass(frozen=True)
class Trials:
    """Per-sample metadata, one entry per sample index i (all arrays ``(S,)``)."""

    movie: np.ndarray
    clip: np.ndarray
    repeat: np.ndarray
    split: np.ndarray


class MouseFolder:
    """One mouse of a built dataset, read-only; see the module docstring for the two levels.

    Parameters
    ----------
    folder
        The mouse folder ``<root>/<mouse_id>``.
    verify
        None to open it for scoring; else open it checked against its manifest, verifying the
        files: "cached" (sizes, and the sha256 of every file whose size or mtime changed since
        it was last verified), "size" (file sizes only), "hash" (sha256 of every file) or
        "none".

    Attributes
    ----------
    trials
        :class:`Trials` of the S samples.
    num_neurons, num_frames
        N and T of every sample (from the manifest when checked, else from sample 0).
    shapes, coordinates, mean_responses, cell_specimen_ids
        Checked level only: the shape of each sample array by :data:`FOLDERS` key, and the
        ``(N, 3)`` neuron coordinates, ``(N,)`` mean normalised training responses and ``(N,)``
        cell specimen ids.
    """

    layout = "brainenc"

    def __init__(self, folder: str | Path, verify: str | None = None) -> None:
        self.folder = Path(folder)
        if verify is None:
            self._open_for_scoring()
        else:
            self._open_checked(verify)

    def _open_for_scoring(self) -> None:
        if not self.folder.is_dir():
            raise FileNotFoundError(f"mouse folder {self.folder} does not exist; {REBUILD_CLAUSE}")
        self.trials = Trials(
            movie=self.meta_vector(f"{TRIALS}/movie.npy", "string").astype(str),
            clip=self.meta_vector(f"{TRIALS}/clip.npy").astype(np.int64),
            repeat=self.meta_vector(f"{TRIALS}/repeat.npy").astype(np.int64),
            split=self.meta_vector(f"{TRIALS}/split.npy", "string").astype(str),
        )
        trials_dir = self.folder / TRIALS
        if len({len(values) for values in vars(self.trials).values()}) != 1:
            raise ValueError(f"{trials_dir}: movie/clip/repeat/split have different lengths")
        unknown = sorted(set(self.trials.split) - set(SPLITS))
        if unknown:
            raise ValueError(
                f"{trials_dir / 'split.npy'}: unknown splits {unknown}; expected {SPLITS}"
            )
        first = self._sample_array("responses", 0, ("neurons", "frames"))
        self.num_neurons, self.num_frames = first.shape

    def _open_checked(self, verify: str) -> None:
        folder = self.folder
        self.manifest = read_manifest(folder)
        self.shapes = _sample_shapes(self.manifest, folder)
        samples = manifest_value(self.manifest, "samples", int, folder)
        _check_recorded_shapes(self.manifest, self.shapes, samples, folder)
        if verify != "none":
            verify_folder(folder, self.manifest, full=verify == "hash", cache=verify == "cached")
        trials = folder / TRIALS
        self.trials = Trials(
            movie=_vector(trials / "movie.npy", samples).astype(str),
            clip=_vector(trials / "clip.npy", samples),
            repeat=_vector(trials / "repeat.npy", samples),
            split=_vector(trials / "split.npy", samples).astype(str),
        )
        _check_splits(self.trials.split, self.manifest, trials / "split.npy")
        neurons = folder / NEURONS
        self.num_neurons, self.num_frames = self.shapes["responses"]
        self.coordinates = _rows(neurons / "coordinates.npy", self.num_neurons)
        self.mean_responses = _rows(neurons / "mean_responses.npy", self.num_neurons)
        self.cell_specimen_ids = _rows(neurons / "cell_specimen_ids.npy", self.num_neurons)

    def __len__(self) -> int:
        return self.num_samples

    @property
    def mouse_id(self) -> str:
        return self.folder.name

    @property
    def num_samples(self) -> int:
        return len(self.trials.split)

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST

    @cached_property
    def manifest(self) -> dict[str, Any]:
        """The manifest, checked by :func:`read_manifest` (read on first use when opened for
        scoring)."""
        return read_manifest(self.folder)

    def manifest_entry(self, key: str) -> Any:
        """``manifest.json[key]`` without checking the manifest; None if the file or the key is
        absent (scoring needs no complete manifest)."""
        path = self.manifest_path
        if not path.is_file():
            return None
        try:
            manifest = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); {REBUILD_CLAUSE}") from None
        return manifest.get(key) if isinstance(manifest, dict) else None

    def manifest_sha256(self) -> str | None:
        """sha256 of ``manifest.json`` (identifies the dataset build), or None if absent."""
        return manifest_sha256(self.folder)

    def normalisation(self) -> str | None:
        """Response normalisation the folder was built with (``seed``, ``viv1t``), or None if its
        ``manifest.json`` does not say."""
        value = self.manifest_entry("normalisation")
        return None if value is None else str(value)

    def verify(self, full: bool = True) -> None:
        """Check the files against the manifest (sha256 of every file when ``full``)."""
        verify_folder(self.folder, self.manifest, full=full)

    def statistics(self) -> dict[str, dict[str, np.ndarray]]:
        """Training statistics ``meta/statistics/<variable>/<stat>.npy``, refusing non-finite ones."""
        return read_statistics(self.folder / STATISTICS_DIR)

    def normaliser(self) -> Normaliser:
        """The transforms the samples were normalised with; ``.inverse(name, x)`` maps back."""
        from brainenc.data.transforms import Normaliser  # torch

        mode = manifest_value(self.manifest, "normalisation", str, self.folder)
        return Normaliser.from_statistics(self.statistics(), mode)

    def meta_vector(self, relative: str, kind: str = "integer") -> np.ndarray:
        """1-D array at ``relative`` (e.g. ``meta/trials/clip.npy``) of ``kind`` values, read
        without unpickling."""
        path = self.folder / relative
        if not path.is_file():
            raise FileNotFoundError(f"missing {path}: not a built mouse folder; {REBUILD_CLAUSE}")
        try:
            values = np.load(path, allow_pickle=False)
        except ValueError as error:
            raise ValueError(
                f"{path} holds Python objects; expected a {kind} array saved without pickling; "
                f"{REBUILD_CLAUSE}"
            ) from error
        if values.ndim != 1:
            raise ValueError(f"{path}: expected a 1-D {kind} array, found shape {values.shape}")
        return values

    def arrays(self, index: int) -> dict[str, np.ndarray]:
        """The four arrays of sample ``index`` (memory-mapped) by :data:`FOLDERS` key, checked
        against the manifest's shapes and for finiteness (checked level)."""
        arrays = {}
        for name in FOLDERS:
            path = self.folder / sample_file(name, index)
            values = load_array(path, mmap=True)
            if values.shape != self.shapes[name]:
                raise DatasetIntegrityError(
                    f"{path} has shape {values.shape}, but every {name} sample of this mouse is "
                    f"{self.shapes[name]} (from {MANIFEST}); the file was replaced. {REBUILD_HINT}"
                )
            arrays[name] = check_finite(values, path)
        return arrays

    def _sample_array(self, name: str, index: int, layout: tuple[str, ...]) -> np.ndarray:
        """Memory-mapped array ``name`` (a key of :data:`FOLDERS`) of one sample, whose axes are
        named by ``layout``; refuses non-finite values."""
        path = self.folder / sample_file(name, index)
        if not path.is_file():
            raise FileNotFoundError(
                f"missing {path} (the trials table lists {self.num_samples} samples); "
                f"{REBUILD_CLAUSE}"
            )
        values = np.load(path, mmap_mode="r", allow_pickle=False)
        if values.ndim != len(layout):
            expected = "(" + ", ".join(layout) + ")"
            raise ValueError(f"{path}: expected {name} {expected}, found shape {values.shape}")
        bad = values.size - int(np.count_nonzero(np.isfinite(values)))
        if bad:
            raise ValueError(
                f"{path} holds {bad} non-finite value(s) (NaN or infinity), which would silently "
                f"change every score; the dataset is damaged or was edited: {REBUILD_CLAUSE}"
            )
        return values

    def responses(self, index: int) -> np.ndarray:
        """Memory-mapped responses ``(N, T)`` of sample ``index`` (stored normalised, finite)."""
        values = self._sample_array("responses", index, ("neurons", "frames"))
        expected = (self.num_neurons, self.num_frames)
        if values.shape != expected:
            raise ValueError(
                f"{self.folder}/{sample_file('responses', index)} has shape {values.shape}, "
                f"sample 0 has {expected}; {REBUILD_CLAUSE}"
            )
        return values

    def video(self, index: int) -> np.ndarray:
        """Memory-mapped video ``(1, T, H, W)`` of sample ``index`` (stored normalised)."""
        return self._sample_array("video", index, ("1", "frames", "height", "width"))

    def behavior(self, index: int) -> np.ndarray:
        """Memory-mapped behaviour ``(2, T)`` [pupil size, running speed] (stored normalised)."""
        return self._sample_array("behavior", index, ("2", "frames"))

    def pupil_center(self, index: int) -> np.ndarray:
        """Memory-mapped pupil centre ``(2, T)`` [x, y] of sample ``index`` (stored normalised)."""
        return self._sample_array("pupil_center", index, ("2", "frames"))

    def stack_responses(self, indices: np.ndarray) -> np.ndarray:
        """Responses of the given samples, ``(S, N, T)`` float32 (read into memory)."""
        stacked = np.empty((len(indices), self.num_neurons, self.num_frames), dtype=np.float32)
        for row, index in enumerate(indices):
            stacked[row] = self.responses(int(index))
        return stacked

    def split_samples(self, split: str | None, purpose: str = "") -> np.ndarray:
        """:meth:`select` of one split, refusing an empty one (``purpose`` says what needs it)."""
        indices = self.select(split=split)
        if indices.size == 0:
            raise ValueError(f"{self.folder}: no samples in split {split!r}{purpose}")
        return indices

    def select(
        self,
        split: str | None = None,
        movie: str | None = None,
        clip: int | None = None,
        repeat: int | None = None,
    ) -> np.ndarray:
        """Sample indices (ascending) matching every given field; ``None`` matches all."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        keep = np.ones(self.num_samples, dtype=bool)
        for values, wanted in (
            (self.trials.split, split),
            (self.trials.movie, movie),
            (self.trials.clip, clip),
            (self.trials.repeat, repeat),
        ):
            if wanted is not None:
                keep &= values == wanted
        return np.flatnonzero(keep)

    def clip_keys(self, indices: np.ndarray) -> list[tuple[str, int]]:
        """Distinct ``(movie, clip)`` pairs of the given samples, in order of first appearance."""
        keys = zip(self.trials.movie[indices], self.trials.clip[indices].tolist(), strict=True)
        return list(dict.fromkeys((str(movie), int(clip)) for movie, clip in keys))

    def max_projection(self) -> np.ndarray | None:
        """Max projection of the imaging plane ``(H, W)``, or None if the folder has none."""
        path = self.folder / SESSION / "max_projection.npy"
        return np.load(path, allow_pickle=False) if path.is_file() else None

    def roi_pixel_centers(self) -> np.ndarray | None:
        """ROI centres ``(N, 2)`` as (x, y) field-of-view pixels, or None if absent."""
        path = self.folder / NEURONS / "roi_pixel_centers.npy"
        return np.load(path, allow_pickle=False) if path.is_file() else None


def manifest_sha256(folder: Path) -> str | None:
    """sha256 of a mouse folder's ``manifest.json`` (identifies its build), or None if absent."""
    path = Path(folder) / MANIFEST
    return sha256_file(path) if path.is_file() else None


def as_mouse_folder(mouse: MouseFolder | str | Path) -> MouseFolder:
    """``mouse`` itself, or the folder at that path opened for scoring."""
    return mouse if isinstance(mouse, MouseFolder) else MouseFolder(mouse)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a built mouse folder, with an actionable error if absent or unreadable.

    Checks its structure: a JSON object of this format version whose `arrays` maps every
    relative file path to a record with `bytes` (int) and `sha256` (str).
    """
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetIntegrityError(
            f"{folder} has no {MANIFEST}; it is not a complete brainenc dataset. {REBUILD_HINT}"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetIntegrityError(f"{path} is not valid JSON ({error}). {REBUILD_HINT}") from None
    if not isinstance(manifest, dict):
        raise DatasetIntegrityError(
            f"{path} holds a JSON {type(manifest).__name__}, expected an object (the manifest "
            f"written by the build). {REBUILD_HINT}"
        )
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DatasetIntegrityError(
            f"{path} has format_version {manifest.get('format_version')}, this brainenc reads "
            f"{FORMAT_VERSION}. {REBUILD_HINT}"
        )
    arrays = manifest.get("arrays")
    if not isinstance(arrays, dict) or not all(_is_record(r) for r in arrays.values()):
        raise DatasetIntegrityError(
            f"{path} has no valid 'arrays' table (file -> {{bytes, sha256, shape}}); the manifest "
            f"was edited or damaged. {REBUILD_HINT}"
        )
    return manifest


def manifest_value(
    manifest: dict[str, Any], key: str, kind: type | tuple[type, ...], folder: Path
) -> Any:
    """``manifest[key]``, refusing a missing entry or one that is not of type ``kind``."""
    value = manifest.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DatasetIntegrityError(
            f"{Path(folder) / MANIFEST}: '{key}' is {value!r}, expected a "
            f"{getattr(kind, '__name__', kind)}; the manifest was edited or damaged. {REBUILD_HINT}"
        )
    return value


def verify_folder(
    folder: Path, manifest: dict[str, Any], full: bool = False, cache: bool = False
) -> None:
    """Check every array file against the manifest.

    Sizes always; sha256 of every file when `full`; with `cache`, sha256 of the files whose
    (size, mtime) stamp is not remembered in `<folder>/.verified.json`, remembering those that
    match (a read-only folder is verified the same way, only not remembered).
    """
    folder = Path(folder)
    known = _read_verified(folder) if cache else {}
    verified = {}
    for relative, record in manifest["arrays"].items():
        path = folder / relative
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise DatasetIntegrityError(
                f"{folder}: {relative} is missing. {REBUILD_HINT}"
            ) from None
        if size != record["bytes"]:
            raise DatasetIntegrityError(
                f"{folder}: {relative} has {size} bytes, the manifest says {record['bytes']} "
                f"(truncated or replaced). {REBUILD_HINT}"
            )
        if not (full or cache):
            continue
        stamp = file_stamp(path, record)
        if (full or known.get(relative) != stamp) and sha256_file(path) != record["sha256"]:
            raise DatasetIntegrityError(
                f"{folder}: {relative} does not match its sha256 in the manifest (its content "
                f"changed since the build). {REBUILD_HINT}"
            )
        verified[relative] = stamp
    if cache:
        remember_verified(folder, verified, known)


def read_statistics(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """Statistics saved as `<folder>/<variable folder>/{mean,std,min,max}.npy`, refusing
    non-finite ones (`check_finite`)."""
    paths = {
        name: {stat: Path(folder) / sub / f"{stat}.npy" for stat in STATISTICS}
        for name, sub in FOLDERS.items()
    }
    return {
        name: {stat: check_finite(load_array(path), path) for stat, path in files.items()}
        for name, files in paths.items()
    }


def check_finite(values: np.ndarray, path: Path) -> np.ndarray:
    """``values`` read from ``path``, refusing NaN or infinities; returns ``values``."""
    finite = np.isfinite(values)
    if not finite.all():
        raise DatasetIntegrityError(
            f"{path} holds {finite.size - int(finite.sum())} non-finite value(s) (NaN or "
            f"infinity); the dataset is damaged or was edited. {REBUILD_HINT}"
        )
    return values


def load_array(path: Path, mmap: bool = False) -> np.ndarray:
    """Read one .npy file of a dataset, never unpickling; unreadable files name the rebuild."""
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DatasetIntegrityError(
            f"{path} is not a plain numeric .npy array ({error}); the dataset is damaged or was "
            f"tampered with. {REBUILD_HINT}"
        ) from None


def file_stamp(path: Path, record: dict[str, Any]) -> list[Any]:
    """What `.verified.json` remembers of a file: size, mtime (ns) and the sha256 it matched."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, record["sha256"]]


def remember_verified(
    folder: Path, stamps: dict[str, list[Any]], known: dict[str, list[Any]] | None = None
) -> None:
    """Write the trusted stamps to `.verified.json` (atomically) if they changed from ``known``."""
    recent = time.time_ns() - RACY_NS
    trusted = {rel: stamp for rel, stamp in stamps.items() if stamp[1] < recent}
    if trusted == known:
        return
    try:
        write_json_atomic(folder / VERIFIED, trusted)
    except OSError as error:
        log.debug("cannot remember the verified files of %s: %s", folder, error)


def _read_verified(folder: Path) -> dict[str, list[Any]]:
    try:
        known = json.loads((folder / VERIFIED).read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def _is_record(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("bytes"), int)
        and isinstance(record.get("sha256"), str)
    )


def _sample_shapes(manifest: dict[str, Any], folder: Path) -> dict[str, tuple[int, ...]]:
    """Shape of each sample array of a built mouse, from the manifest's counts."""
    neurons = manifest_value(manifest, "neurons", int, folder)
    frames = manifest_value(manifest, "frames_per_clip", int, folder)
    height, width = _frame_size(manifest, folder)
    return {
        "video": (1, frames, height, width),
        "behavior": (2, frames),
        "pupil_center": (2, frames),
        "responses": (neurons, frames),
    }


def _frame_size(manifest: dict[str, Any], folder: Path) -> tuple[int, int]:
    size = manifest_value(manifest, "frame_size", list, folder)
    if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        raise DatasetIntegrityError(
            f"{folder / MANIFEST}: 'frame_size' is {size!r}, expected [height, width]. {REBUILD_HINT}"
        )
    return size[0], size[1]


def _check_recorded_shapes(
    manifest: dict[str, Any], shapes: dict[str, tuple[int, ...]], samples: int, folder: Path
) -> None:
    """Every sample file is in the manifest, recorded with the mouse's sample shape."""
    arrays = manifest["arrays"]
    for name in FOLDERS:
        for index in range(samples):
            relative = sample_file(name, index)
            record = arrays.get(relative)
            if record is None:
                raise DatasetIntegrityError(
                    f"{folder / MANIFEST} lists no {relative}, though the mouse has {samples} "
                    f"samples. {REBUILD_HINT}"
                )
            if tuple(record.get("shape", ())) != shapes[name]:
                raise DatasetIntegrityError(
                    f"{folder / relative}: the manifest records shape {record.get('shape')}, but "
                    f"every {name} sample of this mouse is {shapes[name]} (neurons, frames_per_clip "
                    f"and frame_size in {MANIFEST}). {REBUILD_HINT}"
                )


def _vector(path: Path, length: int) -> np.ndarray:
    values = load_array(path)
    if values.shape != (length,):
        raise DatasetIntegrityError(
            f"{path} has shape {values.shape}, expected ({length},): one entry per sample. "
            f"{REBUILD_HINT}"
        )
    return values


def _rows(path: Path, count: int) -> np.ndarray:
    values = load_array(path)
    if values.ndim == 0 or values.shape[0] != count:
        raise DatasetIntegrityError(
            f"{path} has shape {values.shape}, expected {count} rows (one per neuron). "
            f"{REBUILD_HINT}"
        )
    return values


def _check_splits(split: np.ndarray, manifest: dict[str, Any], path: Path) -> None:
    """Split labels are known and as many per split as the manifest's `counts` say."""
    unknown = sorted(set(split.tolist()) - set(SPLITS))
    if unknown:
        raise DatasetIntegrityError(
            f"{path} holds unknown split label(s) {unknown}; expected {list(SPLITS)}. "
            f"{REBUILD_HINT}"
        )
    counts = manifest.get("counts")
    if not isinstance(counts, dict):
        return
    found = {name: int(np.sum(split == name)) for name in SPLITS}
    expected = {name: (counts.get(name) or {}).get("total") for name in SPLITS}
    if found != expected:
        raise DatasetIntegrityError(
            f"{path} has {found} samples per split, the manifest says {expected}. {REBUILD_HINT}"
        )
