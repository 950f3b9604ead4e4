"""``provenance.json``: where a run's code and data came from.

It holds the git commit and dirty flag, package versions, the sha256 of each mouse's dataset
manifest, the seed and the command line.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from brainenc.atomic_files import write_json_atomic
from brainenc.runs.folder import PROVENANCE
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


def write_provenance(
    run_dir: Path,
    seed: int,
    data_manifests: Mapping[str, str | None],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``provenance.json``; ``data_manifests`` maps mouse id → the sha256 of the
    ``manifest.json`` its data was built with (None for data without one)."""
    commit, dirty = git_state()
    payload = {
        "git_commit": commit,
        "git_dirty": dirty,
        "package_versions": package_versions(PACKAGES),
        "data_manifests": dict(data_manifests),
        "seed": int(seed),
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        **dict(extra or {}),
    }
    return write_json_atomic(Path(run_dir) / PROVENANCE, payload)
