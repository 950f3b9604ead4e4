"""A run's per-epoch metric history, from the CSV logger's ``csv/metrics.csv``."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from brainenc.runs.folder import CSV_LOG, CSV_LOG_FOLDER


def metrics_csv(path: Path) -> Path | None:
    """The run's CSVLogger file: ``csv/metrics.csv``, else the first ``csv/**/metrics.csv``."""
    direct = path / CSV_LOG_FOLDER / CSV_LOG
    if direct.is_file():
        return direct
    return next(iter(sorted((path / CSV_LOG_FOLDER).glob(f"**/{CSV_LOG}"))), None)


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
