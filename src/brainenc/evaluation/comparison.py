"""The run comparison table of the seed's FINAL COMPARISON, sorted by validation score.

Hyper-parameters come from each run's ``config_resolved.yaml`` (``peft.r``, ``peft.lora_alpha``,
``peft.target_modules`` or ``peft.name``, ``peft.train_head``, ``optim.optimizer.lr``,
``optim.name``, ``trainer.max_epochs``), scores from ``metrics.json``, the trainable share from
``trainable.json``. Absent values print as "–" (head-only and full runs have no LoRA rank).
A run without scores (no ``metrics.json``: it crashed or still runs) is listed last as failed;
a score that covers part of its split (a limited run) says so: "(partial: N of M samples)".

Below the runs, rows marked "ref" give the reference predictors of
:mod:`brainenc.evaluation.references` (``references`` in ``metrics.json``; one block per distinct
set when runs were scored on different data), each with its fraction of the noise ceiling, as is
every run's test score. Runs older than the references show their baseline only.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from brainenc.atomic_files import write_text_atomic
from brainenc.evaluation.baseline import UNSEEN_REASON
from brainenc.evaluation.comparison_references import ReferenceRow, reference_rows
from brainenc.evaluation.figures import plot_training_curves
from brainenc.evaluation.references import (
    CEILING,
    PREDICTORS,
    Reference,
    fraction_of_ceiling,
    read_references,
)
from brainenc.models.parameter_kinds import LORA_TARGETS
from brainenc.runs.folder import METRICS, RunRecord, config_value, find_runs, read_run_record
from brainenc.runs.history import read_metric_history

MISSING = "–"
TIE_TOLERANCE = 5e-4
"""Validation scores closer than this to the best (equal to 3 decimals) tie with it."""


@dataclass(frozen=True)
class ComparisonRow:
    """One run of the comparison table; None marks an absent value."""

    run: str
    lora_rank: int | None
    lora_alpha: float | None
    target_layers: str | None
    train_head: bool | None
    lr: float | None
    scheduler: str | None
    epochs: int | None
    trainable_percent: float | None
    val_corr: float | None
    test_corr: float | None
    baseline: float | None
    baseline_note: str | None
    references: dict[str, Reference] | None = None
    val_partial: str | None = None
    test_partial: str | None = None
    failure: str | None = None
    best: bool = False
    tied: bool = False

    @property
    def fraction_of_ceiling(self) -> float | None:
        """Test score over the noise ceiling of the run's references (in-silico data)."""
        ceiling = None if self.references is None else self.references[CEILING].corr
        return fraction_of_ceiling(self.test_corr, ceiling)

    @property
    def gain(self) -> float | None:
        """Test score minus the trial-average baseline."""
        if self.test_corr is None or self.baseline is None:
            return None
        return self.test_corr - self.baseline

    def label(self, position: int) -> str:
        """Short legend label naming the table row, e.g. ``"#3 r8 fused lr 0.001 cosine"``."""
        rank = None if self.lora_rank is None else f"r{self.lora_rank}"
        lr = None if self.lr is None else f"lr {self.lr:g}"
        failed = "(failed)" if self.failure else None
        details = [p for p in (rank, self.target_layers, lr, self.scheduler, failed) if p]
        return " ".join([f"#{position}", *details])


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _is_lora(config: dict[str, Any]) -> bool:
    """A LoRA run: its ``peft._target_`` (or, in hand-written configs, ``peft.name``) says so.
    Other runs may carry LoRA settings (an Optuna trial of peft=head_only with peft.r swept)."""
    target = config_value(config, "peft._target_")
    if target:
        return str(target).endswith("LoraStrategy")
    return str(config_value(config, "peft.name")).startswith("lora")


def _train_head(config: dict[str, Any]) -> bool | None:
    """Whether the shifters and readouts trained: ``peft.train_head`` of LoRA runs; every other
    strategy trains them."""
    if not _is_lora(config):
        return True if config_value(config, "peft.name") else None
    value = config_value(config, "peft.train_head")
    return value if isinstance(value, bool) else None


def _target_layers(config: dict[str, Any]) -> str | None:
    targets = config_value(config, "peft.target_modules") if _is_lora(config) else None
    if isinstance(targets, str):
        targets = [targets]
    if isinstance(targets, list | tuple) and targets:
        if set(targets) == {"fused_linear"}:
            return "fused"
        if set(targets) == set(LORA_TARGETS):
            return "all"
        return ",".join(map(str, targets))
    name = config_value(config, "peft.name")
    return str(name) if name is not None else None


def _baseline(metrics: dict[str, Any]) -> tuple[float | None, str | None]:
    value = _number(metrics.get("baseline/test/corr"))
    if value is not None:
        return value, None
    if "baseline/test/corr" in metrics:
        return None, str(metrics.get("baseline/test/reason") or UNSEEN_REASON)
    return None, None


def _partial(metrics: dict[str, Any], stage: str) -> str | None:
    """``"N of M samples"`` when the ``stage`` score covers part of its split (written by
    :mod:`brainenc.training.coverage`), else None."""
    scored, total = metrics.get(f"{stage}/samples"), metrics.get(f"{stage}/samples_total")
    if isinstance(scored, int) and isinstance(total, int) and scored < total:
        return f"{scored} of {total} samples"
    return None


def _failure(record: RunRecord) -> str | None:
    if not record.metrics:
        return f"no {METRICS}: crashed or still running"
    if (
        _number(record.metrics.get("val/corr")) is None
        and _number(record.metrics.get("test/corr")) is None
    ):
        return f"no score in {METRICS}"
    return None


def comparison_row(record: RunRecord, name: str) -> ComparisonRow:
    """Table row of one run; ``name`` labels it (e.g. its path relative to the sweep)."""
    config, metrics = record.config, record.metrics
    lora = _is_lora(config)
    rank = _number(config_value(config, "peft.r")) if lora else None
    epochs = _number(metrics.get("epochs"))
    if epochs is None:
        epochs = _number(config_value(config, "trainer.max_epochs"))
    scheduler = config_value(config, "optim.name")
    baseline, note = _baseline(metrics)
    return ComparisonRow(
        run=name,
        lora_rank=None if rank is None else int(rank),
        lora_alpha=_number(config_value(config, "peft.lora_alpha")) if lora else None,
        target_layers=_target_layers(config),
        train_head=_train_head(config),
        lr=_number(config_value(config, "optim.optimizer.lr")),
        scheduler=None if scheduler is None else str(scheduler),
        epochs=None if epochs is None else int(epochs),
        trainable_percent=_number(record.trainable.get("trainable_percent")),
        val_corr=_number(metrics.get("val/corr")),
        test_corr=_number(metrics.get("test/corr")),
        baseline=baseline,
        baseline_note=note,
        references=read_references(metrics),
        val_partial=_partial(metrics, "val"),
        test_partial=_partial(metrics, "test"),
        failure=_failure(record),
    )


def comparison_rows(records: Sequence[RunRecord], names: Sequence[str]) -> list[ComparisonRow]:
    """Rows sorted by validation score (best first, runs without one, then failed runs, last).

    A unique best run is marked ``best``; runs within :data:`TIE_TOLERANCE` of the best are
    marked ``tied`` instead, and none is best.
    """
    rows = [comparison_row(record, name) for record, name in zip(records, names, strict=True)]
    rows.sort(key=lambda row: (bool(row.failure), row.val_corr is None, -(row.val_corr or 0.0)))
    if not rows or rows[0].val_corr is None:
        return rows
    top = rows[0].val_corr
    tied = [
        i
        for i, row in enumerate(rows)
        if row.val_corr is not None and top - row.val_corr < TIE_TOLERANCE
    ]
    if len(tied) == 1:
        rows[0] = replace(rows[0], best=True)
    else:
        for i in tied:
            rows[i] = replace(rows[i], tied=True)
    return rows


HEADER = (
    "#",
    "run",
    "rank",
    "alpha",
    "layers",
    "train head",
    "lr",
    "scheduler",
    "epochs",
    "trainable %",
    "val corr",
    "test corr",
    "baseline",
    "gain",
    "of ceiling",
)


def _cell(value: Any, spec: str = "") -> str:
    return MISSING if value is None else format(value, spec)


def _score_cell(value: float | None, partial: str | None) -> str:
    cell = _cell(value, ".4f")
    return f"{cell} (partial: {partial})" if value is not None and partial else cell


def _markdown_cells(position: int, row: ComparisonRow) -> list[str]:
    baseline = _cell(row.baseline, ".4f")
    if row.baseline is None and row.baseline_note:
        baseline = f"n/a ({row.baseline_note})"
    gain = MISSING if row.gain is None else f"{row.gain:+.4f}"
    marker = " ★" if row.best else " (tie)" if row.tied else ""
    train_head = MISSING if row.train_head is None else "yes" if row.train_head else "no"
    settings = [
        row.run,
        _cell(row.lora_rank),
        _cell(row.lora_alpha, "g"),
        _cell(row.target_layers),
        train_head,
        _cell(row.lr, "g"),
        _cell(row.scheduler),
        _cell(row.epochs),
        _cell(row.trainable_percent, ".2f"),
    ]
    if row.failure:
        return [f"{position} failed", *settings, f"failed: {row.failure}", *[MISSING] * 4]
    return [
        f"{position}{marker}",
        *settings,
        _score_cell(row.val_corr, row.val_partial),
        _score_cell(row.test_corr, row.test_partial),
        baseline,
        gain,
        _cell(row.fraction_of_ceiling, ".3f"),
    ]


def _reference_cells(row: ReferenceRow, runs: list[str] | None) -> list[str]:
    label = row.label if runs is None else f"{row.label} [{', '.join(runs)}]"
    score = row.reference.corr
    corr = f"n/a ({row.reference.reason})" if score is None else f"{score:.4f}"
    gain = MISSING if row.gain is None else f"{row.gain:+.4f}"
    fraction = fraction_of_ceiling(score, row.ceiling)
    return ["ref", label, *[MISSING] * 9, corr, MISSING, gain, _cell(fraction, ".3f")]


def to_markdown(rows: Sequence[ComparisonRow]) -> str:
    """Markdown table: runs (a unique best validation score marked ★, ties marked, failed runs
    marked failed), then the reference predictors of the scored runs ("ref" rows; one block per
    distinct set, labelled with its runs)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for position, row in enumerate(rows, start=1):
        lines.append("| " + " | ".join(_markdown_cells(position, row)) + " |")
    blocks = reference_rows([row for row in rows if not row.failure])
    for runs, block in blocks:
        for reference in block:
            cells = _reference_cells(reference, runs if len(blocks) > 1 else None)
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


LEGEND = (
    "Scores are mean single-trial correlations on the scored frames (validation: the model "
    "selection metric; test: the selected checkpoint). Baseline: each test sample predicted by "
    "the mean of the training repeats of its clip, scored on the same frames; gain = test - "
    "baseline. ★ marks a unique best validation score; (tie) marks runs within 0.0005 of the "
    "best (equal to 3 decimals), when no run is best. A score marked (partial: N of M samples) "
    "covers part of its split (a limited run: trainer.limit_val_batches, limit_test_batches, "
    "fast_dev_run) and does not compare with full scores. Failed runs left no score. "
    '"ref" rows score reference predictors '
    "on the same test samples and frames: the baseline; a stimulus-blind control (the mean "
    "training response at each frame index, the same for every sample); a ridge regression on "
    "pooled video and behaviour; for in-silico mice, the stimulus-locked truth (noise-free "
    "signal averaged over the repeats of each clip: the best a behaviour-blind model can do) "
    'and the noise ceiling (each trial\'s noise-free signal). "of ceiling" = test score / '
    "noise ceiling.\n"
)

CSV_FIELDS = (
    "position",
    "run",
    "lora_rank",
    "lora_alpha",
    "target_layers",
    "train_head",
    "lr",
    "scheduler",
    "epochs",
    "trainable_percent",
    "val_corr",
    "test_corr",
    "baseline",
    "baseline_note",
    "gain",
    "fraction_of_ceiling",
    "val_partial",
    "test_partial",
    "failure",
    "best",
    "tied",
    *(f"reference_{name}" for name in PREDICTORS),
)


def to_csv(rows: Sequence[ComparisonRow]) -> str:
    """CSV with raw numbers (empty when absent), one row per run.

    Besides the table's columns: ``val_partial`` / ``test_partial`` ("N of M samples" when a
    score covers part of its split), ``failure`` (why a failed run has no score), ``best``,
    ``tied`` and ``reference_<predictor>``, the test score of each of the run's reference
    predictors (empty when not recorded or not defined).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for position, row in enumerate(rows, start=1):
        references = {
            f"reference_{name}": None if row.references is None else row.references[name].corr
            for name in PREDICTORS
        }
        values = {
            **vars(row),
            **references,
            "position": position,
            "gain": row.gain,
            "fraction_of_ceiling": row.fraction_of_ceiling,
        }
        writer.writerow(["" if values[field] is None else values[field] for field in CSV_FIELDS])
    return buffer.getvalue()


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by :func:`write_report`."""

    markdown: Path
    csv: Path
    curves: Path | None
    table: str
    warning: str | None = None


def _run_names(runs: Sequence[Path]) -> list[str]:
    """Each run's path relative to the deepest folder common to all runs."""
    resolved = [run.resolve() for run in runs]
    root = Path(os.path.commonpath(resolved))
    return [str(run.relative_to(root)) if run != root else run.name for run in resolved]


def dataset_warning(records: Sequence[RunRecord], names: Sequence[str]) -> str | None:
    """A warning when the runs were scored on different datasets (``data.root``), else None.

    Scores depend on the dataset, its split and its response normalisation (``viv1t`` scales
    responses per frame, which lifts every correlation), so they compare only within one.
    """
    roots: dict[str, list[str]] = {}
    for record, name in zip(records, names, strict=True):
        root = config_value(record.config, "data.root")
        roots.setdefault(str(root) if root else "unknown", []).append(name)
    if len(roots) < 2:
        return None
    listing = "; ".join(f"{root}: {', '.join(runs)}" for root, runs in roots.items())
    return (
        f"Warning: these runs were scored on {len(roots)} different datasets ({listing}). "
        "Scores, baselines and references compare only within one dataset; ★ is the best "
        "validation score over all of them."
    )


def write_report(paths: Sequence[str | Path], out_dir: str | Path) -> ReportFiles:
    """Compare the runs in ``paths`` (run or multirun directories).

    Writes ``comparison.md``, ``comparison.csv`` and ``curves.png`` (one panel per logged
    metric, every run with a CSV log labelled by its table position, e.g. "#1 r8 fused lr
    0.001 cosine") into ``out_dir``.
    """
    runs = find_runs(paths)
    records = [read_run_record(run) for run in runs]
    names = _run_names(runs)
    rows = comparison_rows(records, names)
    out_dir = Path(out_dir)
    table = to_markdown(rows)
    warning = dataset_warning(records, names)
    preface = f"**{warning}**\n\n" if warning else ""
    markdown = write_text_atomic(
        out_dir / "comparison.md", f"# Run comparison\n\n{preface}{table}\n{LEGEND}"
    )
    csv_path = write_text_atomic(out_dir / "comparison.csv", to_csv(rows))
    path_of = dict(zip(names, runs, strict=True))
    histories = {
        row.label(position): read_metric_history(path_of[row.run])
        for position, row in enumerate(rows, start=1)
    }
    histories = {label: history for label, history in histories.items() if history}
    baselines = [_number(r.metrics.get("baseline/val/corr")) for r in records]
    baseline = next((value for value in baselines if value is not None), None)
    curves = (
        plot_training_curves(histories, out_dir / "curves.png", baseline) if histories else None
    )
    return ReportFiles(markdown, csv_path, curves, table, warning)
