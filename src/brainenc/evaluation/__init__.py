"""Metrics, the trial-average baseline and oracle, figures and run comparison reports.

Modules: ``metrics`` (documented formulas, NumPy), ``streaming`` (what Lightning scores with:
the torchmetrics versions, per-mouse ``CorrelationMetrics`` and the ``BaselineTable``), ``scoring`` (one scoring path for model, baseline and oracle), ``baseline``
(repeat-averaging predictors and the stimulus-blind control), ``ceiling`` (an in-silico mouse's
noise-free signal scored like a model: noise ceiling, stimulus-locked truth), ``ridge`` (linear
reference model), ``references`` (every reference of a mouse folder at once, as stored in
``metrics.json``), ``figures``,
``predictions`` (``evaluate_predictions``) and ``comparison`` (the report, reading run folders
through :mod:`brainenc.runs`).
Figures and reports import matplotlib; import them from their modules. The streaming metrics
are imported on first use, so the report and baseline commands start without torch.
"""

from __future__ import annotations

from typing import Any

from brainenc.evaluation.baseline import (
    RepeatAverageResult,
    SampleScore,
    clip_trial_average,
    jackknife_oracle,
    leave_one_out_average,
    sample_baseline,
    stimulus_blind_control,
    trial_average,
    trial_average_baseline,
)
from brainenc.evaluation.ceiling import (
    NoiseCeiling,
    NoNoiseFreeSignalError,
    noise_ceiling,
    stimulus_locked_truth,
)
from brainenc.evaluation.metrics import (
    DEFAULT_SKIP,
    DEFINITIONS,
    PREDICTION_OFFSET,
    correlation_to_average,
    crop_to_scored,
    feve,
    normalized_correlation,
    pearson,
    per_trial_correlation,
    per_trial_correlations,
    pooled_correlation,
    pooled_correlations,
    scored_frames,
)
from brainenc.evaluation.references import (
    References,
    combine_references,
    fraction_of_ceiling,
    reference_scores,
)
from brainenc.evaluation.ridge import RidgeResult, ridge_reference
from brainenc.evaluation.scoring import Scores, score_predictions

# Imported on first use (torch), from brainenc.evaluation.streaming.
_STREAMING = ("BaselineTable", "CorrelationMetrics", "PerTrialCorrelation", "PooledCorrelation")

__all__ = [
    "DEFAULT_SKIP",
    "DEFINITIONS",
    "PREDICTION_OFFSET",
    "BaselineTable",
    "CorrelationMetrics",
    "NoNoiseFreeSignalError",
    "NoiseCeiling",
    "PerTrialCorrelation",
    "PooledCorrelation",
    "References",
    "RepeatAverageResult",
    "RidgeResult",
    "SampleScore",
    "Scores",
    "clip_trial_average",
    "combine_references",
    "correlation_to_average",
    "crop_to_scored",
    "feve",
    "fraction_of_ceiling",
    "jackknife_oracle",
    "leave_one_out_average",
    "noise_ceiling",
    "normalized_correlation",
    "pearson",
    "per_trial_correlation",
    "per_trial_correlations",
    "pooled_correlation",
    "pooled_correlations",
    "reference_scores",
    "ridge_reference",
    "sample_baseline",
    "score_predictions",
    "scored_frames",
    "stimulus_blind_control",
    "stimulus_locked_truth",
    "trial_average",
    "trial_average_baseline",
]


def __getattr__(name: str) -> Any:
    if name in _STREAMING:
        from brainenc.evaluation import streaming

        return getattr(streaming, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
