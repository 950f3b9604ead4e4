"""The layout of a run folder, and its records: resolved config, metrics and parameter counts.

Every path inside a run folder is named here once; other modules join these names to the folder
rather than spelling them. :func:`read_run_record` reads what a finished (or crashed) run left
behind, :func:`find_runs` finds run folders below multirun folders. Records are written
atomically (:mod:`brainenc.atomic_files`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from brainenc.atomic_files import write_json_atomic, write_text_atomic

RESOLVED_CONFIG = "config_resolved.yaml"
HYDRA_CONFIG = ".hydra/config.yaml"
CONFIG_FILES = (RESOLVED_CONFIG, HYDRA_CONFIG)
PROVENANCE = "provenance.json"
TRAINABLE = "trainable.json"
METRICS = "metrics.json"
CSV_LOG_FOLDER = "csv"  # the CSV logger's name (conf/logger/csv.yaml)
CSV_LOG = "metrics.csv"
CHECKPOINT_FOLDER = "checkpoints"  # ModelCheckpoint's and InterruptCheckpoint's dirpath
BEST_CHECKPOINT = "best.ckpt"
LAST_CHECKPOINT = "last.ckpt"
INTERRUPTED_CHECKPOINT = "interrupted.ckpt"
ADAPTER_FOLDER = "adapter"
EXPORTED_MODEL = "export/model.pt"
FIGURES_FOLDER = "figures"
CURVES_FIGURE = f"{FIGURES_FOLDER}/curves.png"
PRETRAIN_FOLDER = "pretrain"
EVALUATION_FOLDER = "evaluation"
LOCK_FILE = ".brainenc.lock"
DATASET_DIR_KEYS = ("data.root",)


@dataclass(frozen=True)
class RunRecord:
    """What a finished (or crashed) run left behind; absent files read as empty dicts."""

    path: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    trainable: dict[str, Any]


def checkpoint_file(run_dir: str | Path, name: str) -> Path:
    """``<run_dir>/checkpoints/<name>`` (``name``: one of the ``*_CHECKPOINT`` names)."""
    return Path(run_dir) / CHECKPOINT_FOLDER / name


def is_run_dir(path: Path) -> bool:
    """True when ``path`` holds a run's resolved config."""
    return any((path / name).is_file() for name in CONFIG_FILES)


def enclosing_run_dir(path: str | Path) -> Path | None:
    """The run folder ``path`` names: the folder itself or, for a checkpoint, the one holding it."""
    path = Path(path)
    for candidate in (path, path.parent.parent):
        if (candidate / RESOLVED_CONFIG).is_file():
            return candidate
    return None


def find_runs(paths: Sequence[str | Path]) -> list[Path]:
    """Run directories given directly or found below multirun directories, in path order."""
    runs: list[Path] = []
    for given in map(Path, paths):
        if not given.is_dir():
            raise FileNotFoundError(f"{given} is not a directory; pass run or multirun directories")
        if is_run_dir(given):
            runs.append(given)
            continue
        found = []
        for root, dirs, _ in os.walk(given):
            if is_run_dir(Path(root)):
                found.append(Path(root))
                dirs.clear()
            else:
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if not found:
            raise ValueError(
                f"{given} contains no run directories (a run directory has "
                f"{' or '.join(CONFIG_FILES)})"
            )
        runs.extend(sorted(found, key=_natural_key))
    return runs


def _natural_key(path: Path) -> list[Any]:
    """Sort multirun job folders 0, 1, 2, ..., 10 numerically."""
    return [int(part) if part.isdigit() else part for part in path.parts]


def _read_mapping(path: Path, loader: Any) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        content = loader(path.read_text(encoding="utf-8"))
    except (ValueError, yaml.YAMLError) as error:
        raise ValueError(f"{path} is not valid {path.suffix[1:].upper()}: {error}") from error
    if not isinstance(content, dict):
        raise ValueError(
            f"{path}: expected a mapping at the top level, found {type(content).__name__}"
        )
    return content


def read_run_record(path: str | Path) -> RunRecord:
    """Read a run directory's resolved config, metrics.json and trainable.json."""
    path = Path(path)
    config_path = next((path / name for name in CONFIG_FILES if (path / name).is_file()), None)
    if config_path is None:
        raise FileNotFoundError(f"{path} is not a run directory: none of {CONFIG_FILES} exists")
    return RunRecord(
        path=path,
        config=_read_mapping(config_path, yaml.safe_load),
        metrics=_read_mapping(path / METRICS, json.loads),
        trainable=_read_mapping(path / TRAINABLE, json.loads),
    )


def read_resolved_config(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """A run directory's ``config_resolved.yaml`` as plain data (no object is built).

    Returns
    -------
    file, config
        The file read and its content.
    """
    config_path = Path(path) / RESOLVED_CONFIG
    if not config_path.is_file():
        raise FileNotFoundError(
            f"{config_path} is missing: {path} is not a training run directory, or its run "
            "stopped before writing its config."
        )
    return config_path, _read_mapping(config_path, yaml.safe_load)


def config_value(config: dict[str, Any], key: str) -> Any:
    """Value at a dotted key such as ``optim.optimizer.lr``; None when any part is absent."""
    value: Any = config
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def dataset_dir_of_run(record: RunRecord) -> Path:
    """Dataset root of a run from its config (first of :data:`DATASET_DIR_KEYS` that is set)."""
    for key in DATASET_DIR_KEYS:
        value = config_value(record.config, key)
        if isinstance(value, str) and value:
            return Path(value)
    raise ValueError(
        f"{record.path}: the run config sets none of {DATASET_DIR_KEYS}; pass the dataset root "
        "(the folder holding one folder per mouse) explicitly"
    )


def run_figures(run_dir: str | Path) -> list[Path]:
    """The PNG figures of a run (``figures/*.png``), sorted by name."""
    return sorted((Path(run_dir) / FIGURES_FOLDER).glob("*.png"))


def write_resolved_config(run_dir: str | Path, cfg: DictConfig) -> Path:
    """Write ``config_resolved.yaml``: the run's config with every interpolation resolved."""
    return write_text_atomic(Path(run_dir) / RESOLVED_CONFIG, OmegaConf.to_yaml(cfg, resolve=True))


def write_trainable(run_dir: str | Path, counts: Mapping[str, int | float]) -> Path:
    """Write ``trainable.json``: the model's parameter counts."""
    return write_json_atomic(Path(run_dir) / TRAINABLE, dict(counts))


def evaluation_figures_dir(run_dir: str | Path) -> Path:
    """``<run_dir>/evaluation/figures``: the offline evaluation's figures."""
    return Path(run_dir) / EVALUATION_FOLDER / FIGURES_FOLDER


def write_evaluation(run_dir: str | Path, payload: Mapping[str, Any]) -> Path:
    """``<run_dir>/evaluation/metrics.json``: the scores of an offline evaluation."""
    return write_json_atomic(Path(run_dir) / EVALUATION_FOLDER / METRICS, dict(payload))


def write_metrics(run_dir: str | Path, metrics: Mapping[str, Any]) -> Path:
    """Write ``metrics.json`` as strict JSON (NaN → null); it marks the run as finished."""
    return write_json_atomic(Path(run_dir) / METRICS, dict(metrics))
