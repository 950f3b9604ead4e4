"""Names of sweep job folders: ``<job number>_<swept overrides>``.

:func:`sweep_job_name` is the ``sweep_job_name`` resolver of ``hydra.sweep.subdir``
(brainenc/conf/hydra/default.yaml; registered by :mod:`brainenc.training` on import, so jobs of
any launcher resolve it); :class:`NameJobsBySweptKeys` tells it which overrides every job shares.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, read_write


def _short_value(value: str) -> str:
    """Override value for a folder name: floats to 4 significant digits, a path to its last part."""
    if "/" in value:
        return Path(value.strip("'\"")).name
    try:
        number = float(value)
    except ValueError:
        return value
    return value if value.lstrip("+-").isdigit() else f"{number:.4g}"


def sweep_job_name(
    overrides: list[str], fixed_keys: list[str] | None = None, max_length: int = 100
) -> str:
    """Folder name of a sweep job from its overrides (``hydra.overrides.task``).

    Keeps the ``key=value`` items whose key is not in ``fixed_keys`` (the overrides every job of
    the sweep shares: ``hydra.job.config.override_dirname.exclude_keys``, filled by
    :class:`NameJobsBySweptKeys`), so the name holds the swept keys only, group choices such as
    ``peft=lora8_fused`` included. Floats keep 4 significant digits, paths their last part;
    items are sorted by key and joined with ``,``. Names longer than ``max_length`` are cut and end
    with a short hash of the full name, so they stay unique.
    """
    fixed = set(fixed_keys or ())
    kept = {}
    for item in overrides:
        key, _, value = str(item).partition("=")
        key = key.lstrip("+~")
        if key not in fixed:
            kept[key] = f"{key}={_short_value(value)}"
    name = ",".join(kept[key] for key in sorted(kept)) or "default"
    if len(name) > max_length:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: max_length - 9]}~{digest}"
    return name


def swept_keys(task_overrides: list[str], sweeper_params: Mapping[str, Any] | None) -> set[str]:
    """Keys a multirun sweeps: sweeps on the command line (``peft=a,b``, ``choice(...)``) and
    every key of the sweeper's ``params`` (``hparams_search`` configs, basic or Optuna)."""
    parser = OverridesParser.create()
    keys = {str(key) for key in (sweeper_params or {})}
    for override in parser.parse_overrides([str(item) for item in task_overrides]):
        if override.is_sweep_override():
            keys.add(override.key_or_group)
    return keys


class NameJobsBySweptKeys(Callback):
    """Hydra callback (``hydra.callbacks`` in brainenc/conf/hydra/default.yaml) naming sweep job
    folders by the swept keys only.

    At the start of a multirun it adds every non-swept command-line key to
    ``hydra.job.config.override_dirname.exclude_keys`` of the jobs (through the Hydra overrides
    each job is composed with, so every launcher sees it); :func:`sweep_job_name` and Hydra's
    own ``hydra.job.override_dirname`` then leave them out.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        task = OmegaConf.to_container(config.hydra.overrides.task)
        params = OmegaConf.select(config, "hydra.sweeper.params")
        swept = swept_keys(task, params)
        parser = OverridesParser.create()
        fixed = {o.key_or_group for o in parser.parse_overrides(task)} - swept
        excluded = [*config.hydra.job.config.override_dirname.exclude_keys, *sorted(fixed)]
        with read_write(config.hydra.overrides):
            config.hydra.overrides.hydra.append(
                f"hydra.job.config.override_dirname.exclude_keys=[{','.join(excluded)}]"
            )
