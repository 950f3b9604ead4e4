"""Every reference predictor of one mouse folder, scored like a model, in one call.

:func:`reference_scores` gives, on one split and the model's scored frames:

===========================  ==============================================================
``baseline``                 trial average of the training repeats of each clip
                             (:func:`~brainenc.evaluation.baseline.trial_average_baseline`)
``stimulus_blind``           one per-frame profile for every sample, no stimulus
                             (:func:`~brainenc.evaluation.baseline.stimulus_blind_control`)
``ridge``                    linear model of lagged pooled video and behaviour
                             (:func:`~brainenc.evaluation.ridge.ridge_reference`)
``stimulus_locked_truth``    in-silico only: noise-free signal averaged over repeats
                             (:func:`~brainenc.evaluation.ceiling.stimulus_locked_truth`)
``noise_ceiling``            in-silico only: each trial's noise-free signal
                             (:func:`~brainenc.evaluation.ceiling.noise_ceiling`)
===========================  ==============================================================

A predictor that is not defined has ``corr`` None and a ``reason``. :meth:`References.as_dict`
is the JSON layout stored under ``references`` in a run's ``metrics.json``;
:func:`combine_references` merges several mice into the same layout (plus ``mice``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brainenc.data.mouse_folder import MouseFolder, as_mouse_folder
from brainenc.evaluation.baseline import (
    RepeatAverageResult,
    stimulus_blind_control,
    trial_average_baseline,
)
from brainenc.evaluation.ceiling import NoNoiseFreeSignalError, noise_free_references
from brainenc.evaluation.metrics import DEFAULT_SKIP, scored_frames
from brainenc.evaluation.ridge import ridge_reference

PREDICTORS = {
    "baseline": "trial-average baseline",
    "stimulus_blind": "stimulus-blind control",
    "ridge": "ridge (video + behaviour)",
    "stimulus_locked_truth": "stimulus-locked truth (in-silico)",
    "noise_ceiling": "noise ceiling (in-silico)",
}
"""Key in :meth:`References.as_dict` -> label in tables, in table order."""
CEILING = "noise_ceiling"
NO_SIGNAL_REASON = "no noise-free signal: real recording"
RIDGE_SKIPPED_REASON = "not computed (ridge=False)"
MISSING_REASON = "not recorded"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def fraction_of_ceiling(value: float | None, ceiling: float | None) -> float | None:
    """``value / ceiling``, or None when either is absent or the ceiling is not positive."""
    if value is None or ceiling is None or ceiling <= 0:
        return None
    return value / ceiling


@dataclass(frozen=True)
class Reference:
    """Score of one reference predictor.

    Attributes
    ----------
    corr
        Mean single-trial correlation; None when not defined.
    corr_pooled
        Mean pooled correlation; None when not defined.
    reason
        Why ``corr`` is None, else None.
    details
        JSON-ready extras (the ridge's ``lambda`` and validation curve).
    """

    corr: float | None
    corr_pooled: float | None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def scored(cls, result: RepeatAverageResult, **details: Any) -> Reference:
        """From a scored predictor (``scores`` None gives its ``reason``)."""
        if result.scores is None:
            return cls(None, None, result.reason or "not defined")
        return cls(result.scores.corr, result.scores.corr_pooled, None, details)

    @classmethod
    def from_dict(cls, entry: Any) -> Reference:
        """Read one entry of :meth:`References.as_dict` back (a run's ``metrics.json``)."""
        if not isinstance(entry, Mapping):
            return cls(None, None, MISSING_REASON)
        corr, pooled = _number(entry.get("corr")), _number(entry.get("corr_pooled"))
        reason = entry.get("reason")
        if corr is None:
            return cls(None, None, str(reason) if reason else MISSING_REASON)
        return cls(corr, pooled)

    def as_dict(self, ceiling: float | None) -> dict[str, Any]:
        return {
            "corr": self.corr,
            "corr_pooled": self.corr_pooled,
            "fraction_of_ceiling": fraction_of_ceiling(self.corr, ceiling),
            "reason": self.reason,
            **self.details,
        }


@dataclass(frozen=True)
class References:
    """The reference predictors of one mouse folder on one split (see module docstring)."""

    mouse_folder: Path
    split: str
    skip: int
    scored_frames: tuple[int, int]
    num_samples: int
    num_neurons: int
    predictors: dict[str, Reference]

    @property
    def ceiling(self) -> float | None:
        """Noise ceiling (mean single-trial correlation), None for real recordings."""
        return self.predictors[CEILING].corr

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: run facts, then one entry per key of :data:`PREDICTORS`::

        {"mouse_id", "mouse_folder", "split", "skip", "scored_frames": [start, stop],
         "num_samples", "num_neurons",
         "<predictor>": {"corr", "corr_pooled", "fraction_of_ceiling", "reason", ...}}

        ``ridge`` adds ``lambda``, ``validation_corr`` ({lambda: corr}) and ``num_features``.
        """
        return {
            "mouse_id": self.mouse_folder.name,
            "mouse_folder": str(self.mouse_folder),
            "split": self.split,
            "skip": self.skip,
            "scored_frames": list(self.scored_frames),
            "num_samples": self.num_samples,
            "num_neurons": self.num_neurons,
            **{name: self.predictors[name].as_dict(self.ceiling) for name in PREDICTORS},
        }


def _noise_free(mouse: MouseFolder, split: str, skip: int) -> tuple[Reference, Reference]:
    try:
        ceiling, truth = noise_free_references(mouse, split, skip)
    except NoNoiseFreeSignalError:
        missing = Reference(None, None, NO_SIGNAL_REASON)
        return missing, missing
    return Reference.scored(ceiling), Reference.scored(truth)


def _ridge(mouse: MouseFolder, split: str, skip: int) -> Reference:
    for needed in ("train", "validation"):
        if mouse.select(split=needed).size == 0:
            return Reference(None, None, f"no {needed} samples to fit and choose lambda")
    ridge = ridge_reference(mouse, split, skip)
    return Reference.scored(
        ridge.result,
        **{
            "lambda": ridge.penalty,
            "validation_corr": {f"{k:g}": v for k, v in ridge.validation_curve.items()},
            "num_features": ridge.num_features,
        },
    )


def reference_scores(
    mouse: MouseFolder | str | Path,
    split: str = "test",
    skip: int = DEFAULT_SKIP,
    ridge: bool = True,
) -> References:
    """Score every reference predictor of one mouse folder on ``split``.

    Parameters
    ----------
    mouse
        Built mouse folder.
    split
        Scored samples (the model's test split by default).
    skip
        See :func:`~brainenc.evaluation.metrics.scored_frames`.
    ridge
        Fit the ridge (seconds on a demo mouse); without it its ``reason`` says so. Everything
        else only averages stored responses (and, in-silico, reads the noise-free signal).

    Raises
    ------
    ValueError, FileNotFoundError
        When the folder is not a readable built mouse folder or ``split`` has no samples.
    """
    mouse = as_mouse_folder(mouse)
    window = scored_frames(mouse.num_frames, skip)
    baseline = trial_average_baseline(mouse, split, skip)
    ceiling, truth = _noise_free(mouse, split, skip)
    predictors = {
        "baseline": Reference.scored(baseline),
        "stimulus_blind": Reference.scored(stimulus_blind_control(mouse, split, skip)),
        "ridge": _ridge(mouse, split, skip)
        if ridge
        else Reference(None, None, RIDGE_SKIPPED_REASON),
        "stimulus_locked_truth": truth,
        "noise_ceiling": ceiling,
    }
    return References(
        mouse_folder=mouse.folder,
        split=split,
        skip=skip,
        scored_frames=(window.start, window.stop),
        num_samples=int(baseline.sample_indices.size),
        num_neurons=mouse.num_neurons,
        predictors=predictors,
    )


def _mean_over_mice(per_mouse: Mapping[str, References], name: str) -> Reference:
    entries = {mouse_id: refs.predictors[name] for mouse_id, refs in per_mouse.items()}
    missing = {m: e.reason for m, e in entries.items() if e.corr is None}
    if missing:
        reasons = set(missing.values())
        if len(missing) == len(entries) and len(reasons) == 1:
            return Reference(None, None, reasons.pop())
        return Reference(None, None, "; ".join(f"{m}: {r}" for m, r in missing.items()))
    neurons = {m: refs.num_neurons for m, refs in per_mouse.items()}
    details = {}
    if name == "ridge":
        details["lambda_by_mouse"] = {m: e.details.get("lambda") for m, e in entries.items()}
    return Reference(
        corr=sum(e.corr for e in entries.values()) / len(entries),
        corr_pooled=sum(e.corr_pooled * neurons[m] for m, e in entries.items())
        / sum(neurons.values()),
        details=details,
    )


def combine_references(per_mouse: Mapping[str, References]) -> dict[str, Any]:
    """Several mice in the layout of :meth:`References.as_dict`, for a run's ``metrics.json``::

        {"split", "skip", "<predictor>": {"corr", "corr_pooled", "fraction_of_ceiling",
         "reason"}, "mice": {mouse_id: References.as_dict()}}

    ``corr`` is the mean over mice and ``corr_pooled`` the neuron-weighted mean, as the model's
    ``test/corr`` and ``test/corr_pooled`` are; ``ridge`` adds ``lambda_by_mouse``. A predictor
    missing for any mouse is None with the mice's reasons.
    """
    if not per_mouse:
        raise ValueError("combine_references needs the references of at least one mouse")
    settings = {(refs.split, refs.skip) for refs in per_mouse.values()}
    if len(settings) != 1:
        raise ValueError(
            f"references of different (split, skip) cannot be combined: {sorted(settings)}"
        )
    ((split, skip),) = settings
    predictors = {name: _mean_over_mice(per_mouse, name) for name in PREDICTORS}
    ceiling = predictors[CEILING].corr
    return {
        "split": split,
        "skip": skip,
        **{name: reference.as_dict(ceiling) for name, reference in predictors.items()},
        "mice": {mouse_id: refs.as_dict() for mouse_id, refs in per_mouse.items()},
    }


def read_references(metrics: Mapping[str, Any], split: str = "test") -> dict[str, Reference] | None:
    """The references stored under ``references`` in a run's ``metrics.json``.

    Returns
    -------
    dict or None
        Key of :data:`PREDICTORS` -> :class:`Reference` (``reason`` "not recorded" for absent
        entries); None when the run recorded no references (runs older than them) or recorded
        them on another split than ``split``.
    """
    stored = metrics.get("references")
    if not isinstance(stored, Mapping) or stored.get("split", "test") != split:
        return None
    return {name: Reference.from_dict(stored.get(name)) for name in PREDICTORS}


def score_table(
    references: Mapping[str, Reference], models: Mapping[str, float | None], split: str = "test"
) -> str:
    """Plain-text table of the models' scores among the references, with fractions of the ceiling.

    Rows: baseline, stimulus-blind control and ridge, then each model, then the stimulus-locked
    truth and the noise ceiling (references as returned by :func:`read_references`).
    """
    ceiling = references[CEILING].corr if CEILING in references else None
    rows: list[tuple[str, float | None, str]] = []

    def add(label: str, value: float | None, note: str = "") -> None:
        rows.append((label, value, note))

    for name in ("baseline", "stimulus_blind", "ridge"):
        ref = references.get(name, Reference(None, None, MISSING_REASON))
        add(PREDICTORS[name], ref.corr, ref.reason or "")
    for label, value in models.items():
        add(label, value)
    for name in ("stimulus_locked_truth", CEILING):
        ref = references.get(name, Reference(None, None, MISSING_REASON))
        add(PREDICTORS[name], ref.corr, ref.reason or "")
    width = max(len(label) for label, _, _ in rows)
    header = f"{split} corr"
    lines = [f"{'predictor'.ljust(width)}  {header:>9s}  of ceiling"]
    for label, value, note in rows:
        fraction = fraction_of_ceiling(value, ceiling)
        shown = "n/a" if value is None else f"{value:.4f}"
        share = "n/a" if fraction is None else f"{fraction:.3f}"
        line = f"{label.ljust(width)}  {shown:>9s}  {share:>10s}"
        lines.append(f"{line}  ({note})" if value is None and note else line)
    return "\n".join(lines)
