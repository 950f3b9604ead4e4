"""Which mice to build and where their NWB files are: in-silico cache, Allen cache or paths."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainenc.data.config import BuildConfig, check_mouse_id
from brainenc.data.errors import UnreadableSessionError

log = logging.getLogger(__name__)
EXPERIMENTS_FILE = "ophys_experiments.json"


@dataclass(frozen=True)
class MousePlan:
    """A mouse to build: its id and its sessions (experiment ids as text, or NWB paths)."""

    mouse_id: str
    sessions: tuple[str, ...]


class SessionLocator:
    """Resolves the configured source to mouse plans and session files.

    For source `insilico` the cache directory is generated with `brainenc.insilico` when it
    does not exist yet; it is then read through the same allensdk path as real data.
    """

    def __init__(self, config: BuildConfig):
        self.config = config
        self.cache_dir = Path(config.cache_dir)
        self._cache: Any | None = None

    def plans(self) -> list[MousePlan]:
        if self.config.mice:
            return [MousePlan(m, tuple(str(s) for s in ss)) for m, ss in self.config.mice.items()]
        from brainenc.data.allen_cache import select_experiments

        experiments = select_experiments(self.cache(), self.config.selection)
        plans = [MousePlan(str(e["id"]), (str(e["id"]),)) for e in experiments]
        for plan in plans:
            check_mouse_id(plan.mouse_id, "data.build.selection")
        return plans

    def session_files(self, plan: MousePlan) -> list[Path]:
        if self.config.source == "nwb":
            paths = [Path(s) for s in plan.sessions]
            for path in paths:
                if not path.is_file():
                    raise UnreadableSessionError(
                        f"data.build.mice.{plan.mouse_id}: NWB file {path} does not exist."
                    )
            return paths
        from brainenc.data.allen_cache import experiment_file

        return [experiment_file(self.cache(), int(s)) for s in plan.sessions]

    def cache(self) -> Any:
        """The `BrainObservatoryCache` (opened once; generated first for in-silico data)."""
        if self._cache is None:
            from brainenc.data.allen import allensdk_module
            from brainenc.data.allen_cache import open_cache

            api = None
            if self.config.source == "insilico":
                ensure_insilico_cache(self.cache_dir, self.config)
                offline = allensdk_module("brainenc.insilico.offline_api")
                api = offline.OfflineBrainObservatoryApi(self.cache_dir)
            self._cache = open_cache(self.cache_dir, api)
        return self._cache


def ensure_insilico_cache(cache_dir: Path, config: BuildConfig) -> None:
    """Write the in-silico cache (mice, scale, seed, profile from `config.insilico`) if absent."""
    if (cache_dir / EXPERIMENTS_FILE).is_file():
        return
    from brainenc.insilico import session_config, write_cache

    settings = config.insilico
    log.info(
        "no in-silico cache at %s: simulating mice %s (scale %s, seed %d, profile %s)",
        cache_dir,
        ", ".join(settings.mice),
        settings.scale,
        settings.seed,
        settings.profile,
    )
    sessions = [
        session_config(m, settings.scale, settings.seed, settings.profile) for m in settings.mice
    ]
    write_cache(cache_dir, sessions)
