"""Write a simulated session as an Allen Brain Observatory NWB 1.x HDF5 file (plain h5py).

The layout is the one allensdk 2.16.2's ``BrainObservatoryNwbDataSet`` reads (pipeline version
3.0): processed data under ``/processing/brain_observatory_pipeline``, stimulus tables under
``/stimulus/presentation/<name>_stimulus``, templates under
``/stimulus/templates/<name>_image_stack``. Metadata strings are fixed-length bytes scalars and
``/general/generated_by`` is a 1-D bytes array ending in "3.0", as in the released files.
Traces are float64 (n_cells, n_frames); masks are full-frame float32 images (gzip-compressed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from brainenc.atomic_files import atomic_destination
from brainenc.insilico.behavior import RecordedBehavior
from brainenc.insilico.fluorescence import Traces
from brainenc.insilico.rois import Rois
from brainenc.insilico.schedule import Schedule
from brainenc.insilico.session_config import SessionConfig

PIPELINE = "processing/brain_observatory_pipeline"
PIPELINE_VERSION = "3.0"
DEVICE = (
    "Nikon A1R-MP multiphoton microscope. CAM2P.2 Please note: this session was simulated "
    "by brainenc.insilico and never recorded on this rig."
)


@dataclass(frozen=True)
class SessionContents:
    """Everything stored in one session file."""

    config: SessionConfig
    schedule: Schedule
    templates: dict[str, np.ndarray]
    rois: Rois
    cell_specimen_ids: np.ndarray
    roi_ids: np.ndarray
    max_projection: np.ndarray
    traces: Traces
    behavior: RecordedBehavior
    motion: np.ndarray


def _text(value: str) -> np.bytes_:
    return np.bytes_(value.encode("ascii"))


def _texts(values: list[str]) -> np.ndarray:
    return np.array([v.encode("ascii") for v in values])


def _series(group: h5py.Group, ancestry: list[str], **datasets: np.ndarray) -> h5py.Group:
    group.attrs["neurodata_type"] = _text("TimeSeries")
    group.attrs["ancestry"] = _texts(ancestry)
    for name, value in datasets.items():
        group.create_dataset(name, data=value)
    return group


def _write_general(f: h5py.File, c: SessionConfig) -> None:
    start = dt.datetime.fromisoformat(c.session_start)
    f["session_start_time"] = _text(start.strftime("%a %b %d %H:%M:%S %Y"))
    f["nwb_version"] = _text("NWB-1.0.5")
    f["identifier"] = _text(f"brainenc-insilico-{c.mouse_id}-{c.experiment_id}-seed{c.seed}")
    f["session_description"] = _text(
        f"Simulated three_session_A session of in-silico mouse {c.mouse_id} (brainenc.insilico, "
        f"seed {c.seed}); not a recording."
    )
    f["file_create_date"] = _texts([(start + dt.timedelta(days=180)).strftime("%c")])
    general = f.create_group("general")
    for key, value in {
        "session_id": str(c.experiment_id),
        "ophys_experiment_id": str(c.experiment_id),
        "ophys_experiment_name": f"{c.experiment_id}_{start:%Y%m%d}",
        "experiment_container_id": str(c.container_id),
        "session_type": "three_session_A",
        "specimen_name": c.specimen_name,
        "fov": "400x400 microns (512 x 512 pixels)",
        "institution": "Allen Institute for Brain Science (simulated by brainenc.insilico)",
    }.items():
        general[key] = _text(value)
    general["generated_by"] = _texts(["brainenc.insilico", "ophys_nwb_layout", PIPELINE_VERSION])
    general["devices/2-photon microscope"] = _text(DEVICE)
    for key, value in {
        "age": f"{c.age_days} days",
        "sex": c.sex,
        "genotype": c.genotype,
        "species": "Mus musculus",
        "subject_id": c.donor_name,
        "description": "in-silico mouse",
    }.items():
        general[f"subject/{key}"] = _text(value)
    for key, value in {
        "imaging depth": f"{c.imaging_depth_um} microns",
        "location": c.targeted_structure,
        "excitation_lambda": "910 nanometers",
        "indicator": "GCaMP6f",
    }.items():
        general[f"optophysiology/imaging_plane_1/{key}"] = _text(value)


def _write_stimuli(f: h5py.File, schedule: Schedule, templates: dict[str, np.ndarray]) -> None:
    t = schedule.timestamps
    presentation = f.create_group("stimulus/presentation")
    g = schedule.gratings
    _series(
        presentation.create_group("drifting_gratings_stimulus"),
        ["TimeSeries", "AbstractFeatureSeries"],
        data=np.stack([g.temporal_frequency, g.orientation, g.blank_sweep], axis=1),
        features=_texts(["temporal_frequency", "orientation", "blank_sweep"]),
        frame_duration=np.stack([g.start, g.end], axis=1).astype(np.float64),
        timestamps=t[g.start],
    )
    for name, table in schedule.movies.items():
        _series(
            presentation.create_group(f"{name}_stimulus"),
            ["TimeSeries", "IndexSeries"],
            data=table.frame.astype(np.int64),
            frame_duration=np.stack([table.start, table.end], axis=1).astype(np.float64),
            timestamps=t[table.start],
            num_samples=np.int64(len(table.frame)),
        )
    start, end = schedule.spontaneous
    _series(
        presentation.create_group("spontaneous_stimulus"),
        ["TimeSeries", "IntervalSeries"],
        data=np.array([1, -1], dtype=np.int8),
        frame_duration=np.array([[start, start + 1], [end, end + 1]], dtype=np.float64),
        timestamps=t[[start, min(end, len(t) - 1)]],
    )
    for name, stack in templates.items():
        f.create_dataset(f"stimulus/templates/{name}_image_stack/data", data=stack)


def _write_segmentation(pipe: h5py.Group, rec: SessionContents) -> None:
    seg = pipe.create_group("ImageSegmentation")
    seg.attrs["neurodata_type"] = _text("Interface")
    seg["cell_specimen_ids"] = rec.cell_specimen_ids.astype(np.int64)
    names = [str(i) for i in rec.roi_ids]
    seg["roi_ids"] = _texts(names)
    plane = seg.create_group("imaging_plane_1")
    plane["roi_list"] = _texts(names)
    plane["imaging_plane_name"] = _text("imaging_plane_1")
    for i, name in enumerate(names):
        roi = plane.create_group(name)
        roi.create_dataset(
            "img_mask", data=rec.rois.mask(i), compression="gzip", compression_opts=4, chunks=True
        )
        ys, xs = rec.rois.pixels[i]
        roi["pix_mask"] = np.stack([xs, ys], axis=1).astype(np.uint16)
        roi["pix_mask_weight"] = np.ones(len(xs), dtype=np.float32)
    reference = "reference_images/maximum_intensity_projection_image/data"
    plane[reference] = rec.max_projection


def _write_traces(pipe: h5py.Group, rec: SessionContents) -> None:
    t = rec.schedule.timestamps
    tr = rec.traces
    names = _texts([str(i) for i in rec.roi_ids])
    fluo = pipe.create_group("Fluorescence")
    fluo.attrs["neurodata_type"] = _text("Interface")
    rmse = np.where(np.isnan(tr.demixed).all(axis=1), np.nan, tr.noise_sd)
    _series(
        fluo.create_group("imaging_plane_1"),
        ["TimeSeries", "RoiResponseSeries"],
        data=tr.demixed,
        timestamps=t,
        r=tr.r,
        rmse=rmse,
        roi_names=names,
    )
    if rec.config.demixed_signal:
        _series(
            fluo.create_group("imaging_plane_1_demixed_signal"),
            ["TimeSeries", "RoiResponseSeries"],
            data=tr.demixed,
            timestamps=t,
        )
    _series(
        fluo.create_group("imaging_plane_1_neuropil_response"),
        ["TimeSeries", "RoiResponseSeries"],
        data=tr.neuropil,
        r=tr.r,
        timestamps=t,
    )
    dff = pipe.create_group("DfOverF")
    dff.attrs["neurodata_type"] = _text("Interface")
    _series(
        dff.create_group("imaging_plane_1"),
        ["TimeSeries", "RoiResponseSeries"],
        data=tr.dff,
        timestamps=tr.dff_timestamps,
        roi_names=names,
    )


def _write_behavior(pipe: h5py.Group, rec: SessionContents) -> None:
    b = rec.behavior
    _series(
        pipe.create_group("BehavioralTimeSeries/running_speed"),
        ["TimeSeries"],
        data=b.running_speed,
        timestamps=b.running_timestamps,
    )
    if rec.config.eye_tracking:
        eye = pipe.create_group("EyeTracking")
        _series(
            eye.create_group("pupil_location_spherical"),
            ["TimeSeries", "SpatialSeries"],
            data=b.pupil_location_spherical,
            timestamps=b.eye_timestamps,
        )
        _series(
            eye.create_group("pupil_location"),
            ["TimeSeries", "SpatialSeries"],
            data=b.pupil_location_cm,
            timestamps=b.eye_timestamps,
        )
        _series(
            pipe.create_group("PupilTracking/pupil_size"),
            ["TimeSeries"],
            data=b.pupil_area,
            timestamps=b.eye_timestamps,
        )
    motion = pipe.create_group("MotionCorrection/2p_image_series/xy_translation")
    _series(
        motion,
        ["TimeSeries"],
        data=rec.motion,
        timestamps=rec.schedule.timestamps,
        feature_description=_texts(["x_motion", "y_motion"]),
    )


def write_nwb(path: Path, rec: SessionContents) -> Path:
    """Atomically write ``rec`` to ``path`` (an ``.nwb`` HDF5 file) and return the path."""
    with atomic_destination(path) as temporary:
        with h5py.File(temporary, "w") as f:
            _write_general(f, rec.config)
            _write_stimuli(f, rec.schedule, rec.templates)
            pipe = f.create_group(PIPELINE)
            pipe.attrs["neurodata_type"] = _text("Module")
            _write_segmentation(pipe, rec)
            _write_traces(pipe, rec)
            _write_behavior(pipe, rec)
    return Path(path)
