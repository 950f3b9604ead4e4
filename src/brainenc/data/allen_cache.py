"""Choosing experiments and locating their NWB files with allensdk's `BrainObservatoryCache`.

For real data the cache downloads missing files (network needed); for in-silico data an
offline API answers the one query allensdk always sends (`all_eye_mapping_files`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brainenc.data.allen import allensdk_module
from brainenc.data.config import SelectionConfig
from brainenc.data.errors import ConfigError, UnreadableSessionError

MANIFEST = "manifest.json"
OFFLINE_HINT = (
    "Offline, build from NWB files you have: data=nwb data.build.mice={A:[/path/to/<id>.nwb]}, "
    "or point data.build.cache_dir at an Allen cache folder that holds "
    "ophys_experiment_data/<id>.nwb."
)


def open_cache(cache_dir: Path, api: Any | None = None) -> Any:
    """`BrainObservatoryCache` rooted at `cache_dir` (created if missing)."""
    module = allensdk_module("allensdk.core.brain_observatory_cache")
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    return module.BrainObservatoryCache(manifest_file=str(Path(cache_dir) / MANIFEST), api=api)


def select_experiments(cache: Any, selection: SelectionConfig) -> list[dict[str, Any]]:
    """Experiments passing the selection filters, sorted by id, at most `max_experiments`."""
    filters: dict[str, Any] = {
        "session_types": list(selection.session_types),
        "require_eye_tracking": selection.require_eye_tracking,
        "include_failed": selection.include_failed,
    }
    for name in ("targeted_structures", "imaging_depths", "cre_lines"):
        if getattr(selection, name) is not None:
            filters[name] = list(getattr(selection, name))
    try:
        found = cache.get_ophys_experiments(**filters)
    except OSError as error:  # URLError: the experiment list is not cached and cannot be fetched
        where = getattr(cache, "manifest_path", "the cache folder")
        raise UnreadableSessionError(
            f"the list of experiments is not in the cache at {where} and could not "
            f"be downloaded ({error}). {OFFLINE_HINT} List experiments in data.build.mice to "
            "skip the selection."
        ) from error
    experiments = sorted(found, key=lambda e: e["id"])
    if not experiments:
        raise ConfigError(
            f"no experiment in the cache matches data.build.selection {filters}. Relax the "
            "filters (require_eye_tracking=false keeps sessions without eye tracking) or list "
            "experiment ids in data.build.mice."
        )
    return experiments[: selection.max_experiments]


def experiment_file(cache: Any, experiment_id: int) -> Path:
    """Local NWB path of an experiment, downloading it through the cache if needed."""
    try:
        session = cache.get_ophys_experiment_data(int(experiment_id))
    except (OSError, RuntimeError) as error:  # URLError, h5py errors, offline API refusals
        path = Path(cache.get_cache_path(None, cache.EXPERIMENT_DATA_KEY, int(experiment_id)))
        if not path.exists():
            raise UnreadableSessionError(
                f"experiment {experiment_id} is not in the cache at {path} and could not be "
                f"downloaded ({error}). Check the id and the network connection. {OFFLINE_HINT}"
            ) from error
        raise UnreadableSessionError(
            f"NWB file {path} of experiment {experiment_id} cannot be read ({error}); allensdk "
            "reuses any existing file, so a truncated download stays broken. Delete it and run "
            "the build again to download it anew."
        ) from error
    return Path(session.nwb_file)
