"""allensdk access to a cache directory written by `write_cache`, with no network at all.

``BrainObservatoryCache.get_ophys_experiments`` always asks the server for the
``all_eye_mapping_files`` query; `OfflineBrainObservatoryApi` answers it from
``eye_mapping_files.json`` in the cache directory and refuses every other remote call with a
clear error. Experiment ids unknown to allensdk's ``ophys_experiment_session_id_map`` are
registered there (experiment id -> ophys session id from the JSON), so ``require_eye_tracking=True``
also works for custom ids. This module imports allensdk (the ``data`` extra).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

try:
    from allensdk.api.queries.brain_observatory_api import BrainObservatoryApi
    from allensdk.core.brain_observatory_cache import BrainObservatoryCache
    from allensdk.core.ophys_experiment_session_id_mapping import ophys_experiment_session_id_map
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "brainenc.insilico.offline_api needs allensdk 2.16.2: install brainenc[data] "
        f"(allensdk==2.16.2, setuptools<81, statsmodels<0.15); import failed with: {error}"
    ) from error

from brainenc.insilico.cache import EYE_MAPPING_FILE


class OfflineQueryError(RuntimeError):
    """allensdk asked for something that only the Allen server could answer."""


class OfflineBrainObservatoryApi(BrainObservatoryApi):
    """A ``BrainObservatoryApi`` that answers from a local cache directory only.

    Parameters
    ----------
    cache_dir
        Directory laid out by `write_cache` (holding ``eye_mapping_files.json``).
    """

    def __init__(self, cache_dir: Path) -> None:
        super().__init__(base_uri="http://offline.invalid")
        self.cache_dir = Path(cache_dir)
        path = self.cache_dir / EYE_MAPPING_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: expected the offline answer to allensdk's "
                "all_eye_mapping_files query, written by brainenc.insilico.write_cache; "
                "run `python -m brainenc.insilico --out <cache_dir>` first"
            )
        entries = json.loads(path.read_text())
        for entry in entries:
            experiment_id = entry.get("ophys_experiment_id")
            if experiment_id is not None:
                ophys_experiment_session_id_map.setdefault(experiment_id, entry["attachable_id"])
                entry["attachable_id"] = ophys_experiment_session_id_map[experiment_id]
        self._eye_mapping_files: list[dict[str, Any]] = entries

    def _refuse(self, what: str) -> NoReturn:
        raise OfflineQueryError(
            f"{what} needs the Allen Brain Observatory server, but this cache ({self.cache_dir}) "
            "is offline: only files already in the cache directory can be read"
        )

    def template_query(self, template_name: str, entry_name: str, **kwargs: Any) -> Any:
        """Answer ``all_eye_mapping_files`` from the cache; refuse every other query."""
        if (template_name, entry_name) == ("brain_observatory_queries", "all_eye_mapping_files"):
            return [dict(entry) for entry in self._eye_mapping_files]
        self._refuse(f"query {template_name}/{entry_name} {kwargs or ''}".strip())

    def json_msg_query(self, url: str, dataframe: bool = False) -> NoReturn:
        self._refuse(f"request {url}")

    def retrieve_file_over_http(self, url: str, file_path: str, zipped: bool = False) -> NoReturn:
        self._refuse(f"download of {url} to {file_path}")

    def retrieve_parsed_json_over_http(self, url: str, post: bool = False) -> NoReturn:
        self._refuse(f"request {url}")

    def retrieve_xml_over_http(self, url: str) -> NoReturn:
        self._refuse(f"request {url}")


def open_offline_cache(cache_dir: Path) -> BrainObservatoryCache:
    """``BrainObservatoryCache`` on a directory written by `write_cache`, fully offline."""
    cache_dir = Path(cache_dir)
    manifest = cache_dir / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(
            f"{manifest} not found: expected a cache directory written by "
            "brainenc.insilico.write_cache (python -m brainenc.insilico --out <cache_dir>)"
        )
    return BrainObservatoryCache(
        manifest_file=str(manifest), api=OfflineBrainObservatoryApi(cache_dir)
    )
