"""Files every run directory keeps (docs/design.md, "run directories"), written atomically.

``config_resolved.yaml`` (the run's config with every interpolation resolved),
``provenance.json`` (git commit and dirty flag, package versions, sha256 of each mouse's dataset
manifest, seed, command line), ``trainable.json`` (parameter counts) and ``metrics.json``.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, read_write

from brainenc.atomic_files import write_json_atomic, write_text_atomic
from brainenc.evaluation.run_dirs import RESOLVED_CONFIG
from brainenc.versions import package_versions

PACKAGES = (
    "brainenc",
    "torch",
    "lightning",
    "torchmetrics",
    "peft",
    "hydra-core",
    "omegaconf",
    "numpy",
    "allensdk",
    "wandb",
    "hydra-optuna-sweeper",
    "hydra-submitit-launcher",
)


def git_state(directory: Path | None = None) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the git checkout holding ``directory`` (this package by default).

    Both are None when the code does not run from a git checkout or git is missing.
    """
    directory = directory or Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=20
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None, None
    status = git("status", "--porcelain", "--untracked-files=no")
    return commit, None if status is None else bool(status)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_resolved_config(run_dir: Path, cfg: DictConfig) -> Path:
    """Write ``config_resolved.yaml``."""
    return write_text_atomic(Path(run_dir) / RESOLVED_CONFIG, OmegaConf.to_yaml(cfg, resolve=True))


def write_provenance(
    run_dir: Path,
    seed: int,
    data_manifests: Mapping[str, Path | None],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``provenance.json``; ``data_manifests`` maps mouse id → its ``manifest.json``."""
    commit, dirty = git_state()
    payload = {
        "git_commit": commit,
        "git_dirty": dirty,
        "package_versions": package_versions(PACKAGES),
        "data_manifests": {
            m: (file_sha256(path) if path is not None and Path(path).is_file() else None)
            for m, path in data_manifests.items()
        },
        "seed": int(seed),
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        **dict(extra or {}),
    }
    return write_json_atomic(Path(run_dir) / "provenance.json", payload)


def write_json(run_dir: Path, name: str, payload: Mapping[str, Any]) -> Path:
    """Write ``<run_dir>/<name>`` as strict JSON (NaN → null), atomically."""
    return write_json_atomic(Path(run_dir) / name, dict(payload))


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
    """Hydra callback (``hydra.callbacks`` in conf/hydra/default.yaml) naming sweep job folders
    by the swept keys only.

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
