"""Lay out an offline ``BrainObservatoryCache`` directory of simulated mice.

Layout (as allensdk's cache and the public S3 bucket)::

    <cache_dir>/manifest.json                    allensdk manifest, version 1.3
    <cache_dir>/ophys_experiments.json           one record per mouse (the RMA fields allensdk uses)
    <cache_dir>/experiment_containers.json       one record per container
    <cache_dir>/eye_mapping_files.json           offline answer to ``all_eye_mapping_files``
    <cache_dir>/ophys_experiment_data/<id>.nwb   the sessions, with <id>.truth.npz beside them

Open it with `brainenc.insilico.open_offline_cache` (or ``BrainObservatoryCache(manifest_file=...,
api=OfflineBrainObservatoryApi(cache_dir))``); nothing touches the network.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from brainenc.atomic_files import write_json_atomic
from brainenc.insilico.session import make_templates, write_session
from brainenc.insilico.session_config import SessionConfig, SessionConfigError

MANIFEST_VERSION = "1.3"
EYE_MAPPING_FILE = "eye_mapping_files.json"
_MANIFEST_FILES = {
    "EXPERIMENT_CONTAINERS": "experiment_containers.json",
    "EXPERIMENTS": "ophys_experiments.json",
    "EXPERIMENT_DATA": "ophys_experiment_data/%d.nwb",
    "ANALYSIS_DATA": "ophys_experiment_analysis/%d_%s_analysis.h5",
    "EVENTS_DATA": "ophys_experiment_events/%d_events.npz",
    "CELL_SPECIMENS": "cell_specimens.json",
    "STIMULUS_MAPPINGS": "stimulus_mappings.json",
    "EYE_GAZE_DATA": "ophys_eye_gaze_mapping/%d_eyetracking_dlc_to_screen_mapping.h5",
}
_STRUCTURES = {
    "VISp": ("Primary visual area", 385),
    "VISl": ("Lateral visual area", 409),
    "VISal": ("Anterolateral visual area", 402),
    "VISpm": ("posteromedial visual area", 533),
}


def manifest() -> dict[str, Any]:
    """The manifest allensdk's ``BrainObservatoryCache`` writes for a fresh cache directory."""
    entries: list[dict[str, Any]] = [
        {"type": "manifest_version", "value": MANIFEST_VERSION},
        {"key": "BASEDIR", "type": "dir", "spec": "."},
    ]
    entries += [
        {"key": key, "type": "file", "spec": spec, "parent_key": "BASEDIR"}
        for key, spec in _MANIFEST_FILES.items()
    ]
    return {"manifest": entries}


def _transgenic_lines(genotype: str) -> list[dict[str, str]]:
    lines = []
    for part in genotype.split(";"):
        name = part.split("/")[0]
        kind = "reporter" if name.startswith("Ai") else "driver"
        lines.append({"name": name, "transgenic_line_type_name": kind})
    return lines


def _specimen(c: SessionConfig) -> dict[str, Any]:
    return {
        "name": c.specimen_name,
        "donor": {
            "external_donor_name": c.donor_name,
            "date_of_birth": f"{c.date_of_birth}T00:00:00Z",
            "sex": c.sex,
            "transgenic_lines": _transgenic_lines(c.genotype),
            "conditions": [],
        },
    }


def _structure(acronym: str) -> dict[str, Any]:
    name, structure_id = _STRUCTURES.get(acronym, (acronym, 0))
    return {"acronym": acronym, "name": name, "id": structure_id}


def container_record(c: SessionConfig) -> dict[str, Any]:
    """``experiment_containers.json`` record of one mouse."""
    return {
        "id": c.container_id,
        "imaging_depth": c.imaging_depth_um,
        "targeted_structure": _structure(c.targeted_structure),
        "specimen": _specimen(c),
        "failed": False,
    }


def experiment_record(c: SessionConfig) -> dict[str, Any]:
    """``ophys_experiments.json`` record of one mouse (the fields allensdk filters and returns)."""
    acquired = dt.datetime.fromisoformat(c.session_start)
    return {
        "id": c.experiment_id,
        "name": f"{c.experiment_id}_{acquired:%Y%m%d}",
        "experiment_container_id": c.container_id,
        "stimulus_name": "three_session_A",
        "imaging_depth": c.imaging_depth_um,
        "targeted_structure": _structure(c.targeted_structure),
        "experiment_container": {"id": c.container_id, "failed": False},
        "specimen": _specimen(c),
        "date_of_acquisition": f"{acquired.isoformat()}Z",
        "failed": False,
        "fail_eye_tracking": not c.eye_tracking,
    }


def eye_mapping_record(c: SessionConfig) -> dict[str, Any]:
    """Entry of the offline ``all_eye_mapping_files`` answer for a mouse with eye tracking."""
    return {
        "attachable_id": c.ophys_session_id,
        "attachable_type": "OphysSession",
        "ophys_experiment_id": c.experiment_id,
        "well_known_file_type": "EyeDlcScreenMapping",
    }


def _check_unique(mice: list[SessionConfig]) -> None:
    if not mice:
        raise SessionConfigError("write_cache: expected at least one SessionConfig, found none")
    for attribute in ("mouse_id", "experiment_id", "ophys_session_id"):
        values = [getattr(c, attribute) for c in mice]
        if len(set(values)) != len(values):
            raise SessionConfigError(
                f"write_cache: every mouse needs its own {attribute}, found {values}; "
                "give each SessionConfig a distinct value"
            )


def write_cache(cache_dir: Path, mice: list[SessionConfig]) -> Path:
    """Simulate every mouse and lay out the offline cache directory; return the manifest path.

    Mice that share a seed and template sizes share one rendering of the movies, as real mice
    shared the stimulus. Every file is written atomically and ``ophys_experiments.json`` comes
    last, so its presence marks a complete cache.
    """
    _check_unique(mice)
    cache_dir = Path(cache_dir)
    templates: dict[tuple[int, ...], dict] = {}
    for c in mice:
        key = (
            c.seed,
            c.template_height,
            c.template_width,
            c.natural_movie_one_frames,
            c.natural_movie_three_frames,
        )
        if key not in templates:
            templates[key] = make_templates(c)
        write_session(
            cache_dir / "ophys_experiment_data" / f"{c.experiment_id}.nwb", c, templates[key]
        )
    containers = {c.container_id: container_record(c) for c in mice}
    write_json_atomic(cache_dir / "experiment_containers.json", list(containers.values()))
    write_json_atomic(
        cache_dir / EYE_MAPPING_FILE, [eye_mapping_record(c) for c in mice if c.eye_tracking]
    )
    manifest_path = write_json_atomic(cache_dir / "manifest.json", manifest())
    # last: its presence marks a complete cache
    write_json_atomic(cache_dir / "ophys_experiments.json", [experiment_record(c) for c in mice])
    return manifest_path
