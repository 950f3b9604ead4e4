"""Reading training run directories (the run-directory contract of docs/design.md)."""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

RESOLVED_CONFIG = "config_resolved.yaml"
CONFIG_FILES = (RESOLVED_CONFIG, ".hydra/config.yaml")


@dataclass(frozen=True)
class RunRecord:
    """What a finished (or crashed) run left behind; absent files read as empty dicts."""

    path: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    trainable: dict[str, Any]


def is_run_dir(path: Path) -> bool:
    """True when ``path`` holds a run's resolved config."""
    return any((path / name).is_file() for name in CONFIG_FILES)


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


def load_run(path: str | Path) -> RunRecord:
    """Read a run directory's resolved config, metrics.json and trainable.json."""
    path = Path(path)
    config_path = next((path / name for name in CONFIG_FILES if (path / name).is_file()), None)
    if config_path is None:
        raise FileNotFoundError(f"{path} is not a run directory: none of {CONFIG_FILES} exists")
    return RunRecord(
        path=path,
        config=_read_mapping(config_path, yaml.safe_load),
        metrics=_read_mapping(path / "metrics.json", json.loads),
        trainable=_read_mapping(path / "trainable.json", json.loads),
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


def metrics_csv(path: Path) -> Path | None:
    """The run's CSVLogger file: ``csv/metrics.csv``, else the first ``csv/**/metrics.csv``."""
    direct = path / "csv" / "metrics.csv"
    if direct.is_file():
        return direct
    return next(iter(sorted((path / "csv").glob("**/metrics.csv"))), None)


def read_metric_history(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-epoch history of every logged metric of a run (empty if it has no CSV log).

    Rows of one epoch are averaged (step-level losses become an epoch mean). Lightning's
    ``train/loss_epoch`` is reported as ``train/loss`` when present.

    Returns
    -------
    dict
        Metric name -> (epochs ``(E,)`` int, values ``(E,)`` float64).
    """
    csv_path = metrics_csv(Path(path))
    if csv_path is None:
        return {}
    collected: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    with csv_path.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            epoch = row.get("epoch") or ""
            if not epoch:
                continue
            for name, text in row.items():
                if name in ("epoch", "step") or not text:
                    continue
                try:
                    collected[name][int(float(epoch))].append(float(text))
                except ValueError as error:
                    raise ValueError(f"{csv_path}: non-numeric {name!r} value {text!r}") from error
    history = {
        name: (
            np.array(sorted(by_epoch)),
            np.array([np.mean(by_epoch[e]) for e in sorted(by_epoch)]),
        )
        for name, by_epoch in collected.items()
    }
    if "train/loss_epoch" in history:
        history["train/loss"] = history["train/loss_epoch"]
    return history


DATASET_DIR_KEYS = ("data.root",)


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
