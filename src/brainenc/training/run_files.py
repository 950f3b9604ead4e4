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

from omegaconf import DictConfig, OmegaConf

from brainenc.atomic_files import write_json_atomic, write_text_atomic
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
    return write_text_atomic(
        Path(run_dir) / "config_resolved.yaml", OmegaConf.to_yaml(cfg, resolve=True)
    )


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


SWEEP_NAME_SKIP = (
    "seed",
    "experiment",
    "hparams_search",
    "logger",
    "debug",
    "callbacks",
    "paths",
    "hydra",
    "ckpt_path",
    "continue_from",
    "pretrained.path",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.fast_dev_run",
    "trainer.limit_train_batches",
    "trainer.limit_val_batches",
    "trainer.limit_test_batches",
)


def sweep_job_name(overrides: list[str], max_length: int = 100) -> str:
    """Folder name of a sweep job from its command-line overrides (``hydra.overrides.task``).

    Keeps ``key=value`` items that describe the model and training: drops the keys of
    :data:`SWEEP_NAME_SKIP` (and their sub-keys) and any value holding a path (``/``); sorts the
    rest and joins them with ``,``. Names longer than ``max_length`` are cut and end with a short
    hash of the full name, so they stay unique.
    """
    kept = []
    for item in overrides:
        key, _, value = str(item).partition("=")
        key = key.lstrip("+~")
        if "/" in value or any(
            key == skip or key.startswith(skip + ".") for skip in SWEEP_NAME_SKIP
        ):
            continue
        kept.append(f"{key}={value}".replace("/", "_"))
    name = ",".join(sorted(kept)) or "default"
    if len(name) > max_length:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: max_length - 9]}~{digest}"
    return name
