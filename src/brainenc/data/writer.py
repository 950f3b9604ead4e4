"""Write one mouse folder: the one module that writes the layout of docs/design.md.

```
<root>/<mouse_id>/
  data/{videos,behavior,pupil_center,responses}/<i>.npy   normalised float32 samples
  meta/trials/{movie,clip,repeat,split,session_repeat,experiment_id}.npy
  meta/neurons/{cell_specimen_ids,coordinates,imaging_depth,roi_pixel_centers,
                mean_responses}.npy
  meta/statistics/{videos,behavior,pupil_center,responses}/{mean,std,min,max}.npy
  meta/session/max_projection.npy
  figures/{roi_masks,max_projection,example_traces}.png
  manifest.json
  .verified.json
```

Its names come from :mod:`brainenc.data.mouse_folder`, which reads it. A folder is written
(`FolderWriter`) into a hidden sibling `.<mouse_id>.tmp-<pid>-<token>` and renamed into place only
when complete, so a failed or killed build never leaves a partial dataset at `<root>/<mouse_id>`.
Replacing an existing folder (`overwrite=true`) first renames the old one to
`.<mouse_id>.old-<pid>-<token>`, then renames the new one into place, then deletes the old one.
Leftovers of killed builds are removed (or, for an interrupted replacement, restored) by
`sweep_stale` before the next build. Files are not fsync'ed (it cost 3-4 ms per file, seconds per
mouse): after a power loss a renamed folder could hold short files, which the size check of
`verify_folder` (run whenever a dataset is opened) reports with the rebuild command. The writer
seeds `.verified.json` with the files it hashed. `build_lock` serialises builds into one dataset
root.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from brainenc.data import folder_figures
from brainenc.data.alignment import repeat_report
from brainenc.data.config import BuildConfig, config_digest
from brainenc.data.coordinates import neuron_coordinates
from brainenc.data.errors import DatasetExistsError, DatasetWriteError
from brainenc.data.mouse_folder import (
    FOLDERS,
    FORMAT_VERSION,
    MANIFEST,
    NEURONS,
    SESSION,
    STATISTICS_DIR,
    TRIALS,
    file_stamp,
    remember_verified,
    sample_file,
)
from brainenc.data.recording import Recording
from brainenc.data.samples import SampleSet
from brainenc.data.transforms import Normaliser
from brainenc.digests import sha256_file
from brainenc.versions import package_versions

log = logging.getLogger(__name__)
PACKAGES = ("brainenc", "numpy", "allensdk", "h5py", "pandas", "torch")
STALE = re.compile(r"^\.(?P<mouse>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-[0-9a-f]+$")


def write_mouse(
    target: Path,
    mouse_id: str,
    recordings: list[Recording],
    samples: SampleSet,
    statistics: dict[str, dict[str, np.ndarray]],
    imputation: dict[str, Any],
    config: BuildConfig,
    identity: dict[str, Any],
) -> Path:
    """Normalise and write every sample of one mouse atomically; returns the folder."""
    normaliser = Normaliser.from_statistics(statistics, config.normalisation)
    first = recordings[0]
    with FolderWriter(target) as writer:
        videos = normaliser.forward("video", samples.video_clips[:, None])
        response_sum = np.zeros(samples.responses.shape[1], dtype=np.float64)
        train = samples.mask("train")
        for i in range(len(samples)):
            writer.save(sample_file("video", i), videos[samples.video_index[i]])
            for name in ("behavior", "pupil_center", "responses"):
                value = normaliser.forward(name, getattr(samples, name)[i])
                writer.save(sample_file(name, i), value)
                if name == "responses" and train[i]:
                    response_sum += value.mean(axis=1)
        for name in ("movie", "clip", "repeat", "split", "session_repeat", "experiment_id"):
            writer.save(f"{TRIALS}/{name}.npy", getattr(samples, name))
        depth = float(first.metadata.get("imaging_depth_um", np.nan))
        writer.save(f"{NEURONS}/cell_specimen_ids.npy", first.cell_specimen_ids)
        writer.save(
            f"{NEURONS}/coordinates.npy", neuron_coordinates(first.roi_pixel_centers, depth)
        )
        writer.save(
            f"{NEURONS}/imaging_depth.npy",
            np.full(len(first.cell_specimen_ids), depth, np.float32),
        )
        writer.save(f"{NEURONS}/roi_pixel_centers.npy", first.roi_pixel_centers.astype(np.float32))
        writer.save(
            f"{NEURONS}/mean_responses.npy", (response_sum / train.sum()).astype(np.float32)
        )
        writer.save(f"{SESSION}/max_projection.npy", first.max_projection.astype(np.float32))
        for name, stats in statistics.items():
            for stat, value in stats.items():
                writer.save(f"{STATISTICS_DIR}/{FOLDERS[name]}/{stat}.npy", value)
        if config.figures:
            _figures(writer, first, config)
        manifest = _manifest(
            mouse_id, recordings, samples, imputation, normaliser, config, identity
        )
        return writer.commit(manifest, overwrite=config.overwrite)


def _figures(writer: FolderWriter, recording: Recording, config: BuildConfig) -> None:
    folder_figures.roi_masks_figure(recording, writer.file("figures/roi_masks.png"))
    folder_figures.max_projection_figure(recording, writer.file("figures/max_projection.png"))
    movie = next(m for m in config.movies if m in recording.movies)
    folder_figures.example_traces_figure(
        recording, movie, config.clip_frames, writer.file("figures/example_traces.png")
    )


def _manifest(
    mouse_id: str,
    recordings: list[Recording],
    samples: SampleSet,
    imputation: dict[str, Any],
    normaliser: Normaliser,
    config: BuildConfig,
    identity: dict[str, Any],
) -> dict[str, Any]:
    eye = (
        "recorded"
        if all(r.has_eye_tracking for r in recordings)
        else (
            "constant zero pupil inputs for sessions without eye tracking "
            "(allow_missing_eye_tracking=true)"
        )
    )
    return {
        "mouse_id": mouse_id,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "identity": identity,
        "identity_sha256": config_digest(identity),
        "processing_sha256": config_digest(identity["processing"]),
        "config": config.to_dict(),
        "sources": [_source(r, config.clip_frames) for r in recordings],
        "session": recordings[0].metadata,
        "counts": samples.counts(),
        "samples": len(samples),
        "neurons": int(samples.responses.shape[1]),
        "frames_per_clip": config.clip_frames,
        "frame_size": list(config.frame_size),
        "normalisation": config.normalisation,
        "eye_tracking": eye,
        "pupil_center_units": "degrees" if config.pupil_units == "spherical" else "cm",
        "behavior_channels": ["pupil_size (pixels)", "running_speed (cm/s)"],
        "imputation": imputation,
        "degenerate_statistics": normaliser.degenerate_counts,
        "package_versions": package_versions(PACKAGES),
    }


def _source(recording: Recording, clip_length: int) -> dict[str, Any]:
    return {
        "path": str(recording.source.resolve()),
        "experiment_id": recording.experiment_id,
        "bytes": recording.source.stat().st_size,
        "sha256": sha256_file(recording.source),
        "eye_tracking": recording.has_eye_tracking,
        "metadata": recording.metadata,
        "alignment": {
            movie: repeat_report(m.presentations, clip_length)
            for movie, m in recording.movies.items()
        },
    }


class FolderWriter:
    """Write one dataset folder atomically; use as a context manager.

    Files go to a temporary sibling; `commit` writes the manifest and renames the folder into
    place. Leaving the `with` block without a commit (an exception) deletes the temporary folder.
    """

    def __init__(self, target: Path):
        self.target = Path(target)
        token = secrets.token_hex(4)
        self.path = self.target.parent / f".{self.target.name}.tmp-{os.getpid()}-{token}"
        self.arrays: dict[str, dict[str, Any]] = {}
        self._committed = False

    def __enter__(self) -> FolderWriter:
        self.path.mkdir(parents=True)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._committed:
            return
        written = _folder_bytes(self.path)
        shutil.rmtree(self.path, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            kept = (
                "the existing dataset there is unchanged"
                if self.target.exists()
                else ("no partial dataset was left")
            )
            raise DatasetWriteError(
                exc.errno,
                f"writing dataset {self.target} failed after {written / 2**20:.1f} MiB: "
                f"{exc.strerror} (on the file system of {self.target.parent}); {kept}. Free "
                "disk space or point data.root at a larger disk, then run the build again.",
            ) from exc

    def save(self, relative: str, array: np.ndarray) -> None:
        """Write `array` as .npy at `relative` and record its size, shape, dtype and sha256."""
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
        data = buffer.getvalue()
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.arrays[relative] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "shape": list(array.shape),
            "dtype": str(array.dtype),
        }

    def file(self, relative: str) -> Path:
        """Path for a non-array file (figures) inside the folder being written."""
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def commit(self, manifest: dict[str, Any], overwrite: bool) -> Path:
        """Write the manifest and move the folder into place; returns the final path."""
        manifest = {**manifest, "format_version": FORMAT_VERSION, "arrays": self.arrays}
        (self.path / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        remember_verified(
            self.path, {rel: file_stamp(self.path / rel, r) for rel, r in self.arrays.items()}
        )
        if self.target.exists():
            if not overwrite:
                raise DatasetExistsError(
                    f"{self.target} already exists: it appeared while this build was writing "
                    "(something other than a brainenc build wrote it; those of one root run one "
                    "at a time) and was left as is. Run the build again: it keeps the folder if "
                    "it was built with these settings and replaces it only with "
                    "data.build.overwrite=true."
                )
            old = self.target.parent / self.path.name.replace(".tmp-", ".old-")
            os.rename(self.target, old)
            os.rename(self.path, self.target)
            shutil.rmtree(old)
        else:
            os.rename(self.path, self.target)
        self._committed = True
        return self.target


def sweep_stale(root: Path) -> list[Path]:
    """Remove leftovers of builds whose process is gone; restore interrupted replacements.

    Returns the paths removed or restored.
    """
    handled = []
    if not root.is_dir():
        return handled
    for path in sorted(root.iterdir()):
        match = STALE.match(path.name)
        if not match or _alive(int(match["pid"])):
            continue
        target = root / match["mouse"]
        if match["kind"] == "old" and not target.exists():
            os.rename(path, target)
        else:
            shutil.rmtree(path, ignore_errors=True)
        handled.append(path)
    return handled


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on the dataset root `root` (a directory) while building into it.

    A second build of the same root waits, saying which process holds the lock. The lock is a
    `flock` on the directory itself: nothing is written, and a killed build releases it.
    """
    handle = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning(
                "another build (%s) is running in %s; waiting for it to finish (stop that "
                "process if it hangs)",
                _lock_holder(root),
                root,
            )
            fcntl.flock(handle, fcntl.LOCK_EX)
            log.warning("the other build in %s finished; continuing", root)
        yield
    finally:
        os.close(handle)


def _lock_holder(root: Path) -> str:
    """'pid N' of the process holding the flock on `root` (from /proc/locks), if known."""
    stat = os.stat(root)
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return "pid unknown"
    for line in lines:
        fields = line.split()
        if "->" not in fields and len(fields) >= 6 and fields[5] == device:
            return f"pid {fields[4]}"
    return "pid unknown"


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
