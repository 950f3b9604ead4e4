"""Write one mouse in the Sensorium-like layout of docs/design.md, with its manifest.

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
```
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from brainenc.data import figures
from brainenc.data.alignment import repeat_report
from brainenc.data.config import BuildConfig, config_digest
from brainenc.data.coordinates import neuron_coordinates
from brainenc.data.layout import FOLDERS, FolderWriter, sha256_file
from brainenc.data.recording import Recording
from brainenc.data.samples import SampleSet
from brainenc.data.transforms import Normaliser
from brainenc.versions import package_versions

PACKAGES = ("brainenc", "numpy", "allensdk", "h5py", "pandas", "torch")


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
            writer.save(f"data/videos/{i}.npy", videos[samples.video_index[i]])
            for name in ("behavior", "pupil_center", "responses"):
                value = normaliser.forward(name, getattr(samples, name)[i])
                writer.save(f"data/{FOLDERS[name]}/{i}.npy", value)
                if name == "responses" and train[i]:
                    response_sum += value.mean(axis=1)
        for name in ("movie", "clip", "repeat", "split", "session_repeat", "experiment_id"):
            writer.save(f"meta/trials/{name}.npy", getattr(samples, name))
        depth = float(first.metadata.get("imaging_depth_um", np.nan))
        writer.save("meta/neurons/cell_specimen_ids.npy", first.cell_specimen_ids)
        writer.save(
            "meta/neurons/coordinates.npy", neuron_coordinates(first.roi_pixel_centers, depth)
        )
        writer.save(
            "meta/neurons/imaging_depth.npy",
            np.full(len(first.cell_specimen_ids), depth, np.float32),
        )
        writer.save(
            "meta/neurons/roi_pixel_centers.npy", first.roi_pixel_centers.astype(np.float32)
        )
        writer.save(
            "meta/neurons/mean_responses.npy", (response_sum / train.sum()).astype(np.float32)
        )
        writer.save("meta/session/max_projection.npy", first.max_projection.astype(np.float32))
        for name, stats in statistics.items():
            for stat, value in stats.items():
                writer.save(f"meta/statistics/{FOLDERS[name]}/{stat}.npy", value)
        if config.figures:
            _figures(writer, first, config)
        manifest = _manifest(
            mouse_id, recordings, samples, imputation, normaliser, config, identity
        )
        return writer.commit(manifest, overwrite=config.overwrite)


def _figures(writer: FolderWriter, recording: Recording, config: BuildConfig) -> None:
    figures.roi_masks_figure(recording, writer.file("figures/roi_masks.png"))
    figures.max_projection_figure(recording, writer.file("figures/max_projection.png"))
    movie = next(m for m in config.movies if m in recording.movies)
    figures.example_traces_figure(
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
