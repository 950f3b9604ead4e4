"""The reference rows of the run comparison table (:mod:`brainenc.evaluation.comparison`).

Each run's ``metrics.json`` holds the references of the data it was scored on (``references``,
read by :func:`~brainenc.evaluation.references.read_references`). Runs scored on the same data
share one block of rows; runs older than the references contribute their
``baseline/test/corr`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from brainenc.evaluation.references import CEILING, PREDICTORS, Reference
from brainenc.runs.folder import METRICS

if TYPE_CHECKING:
    from brainenc.evaluation.comparison import ComparisonRow

NOT_STORED = f"not in {METRICS}"


@dataclass(frozen=True)
class ReferenceRow:
    """One reference predictor of the table (see :mod:`brainenc.evaluation.references`)."""

    name: str
    label: str
    reference: Reference
    baseline: float | None
    ceiling: float | None

    @property
    def gain(self) -> float | None:
        """Score minus the trial-average baseline of the same references (None for itself)."""
        if self.name == "baseline" or self.reference.corr is None or self.baseline is None:
            return None
        return self.reference.corr - self.baseline


def _references_of(row: ComparisonRow) -> dict[str, Reference]:
    if row.references is not None:
        return row.references
    missing = Reference(None, None, NOT_STORED)
    if row.baseline is not None:
        baseline = Reference(row.baseline, None)
    else:
        baseline = Reference(None, None, row.baseline_note or NOT_STORED)
    return {name: baseline if name == "baseline" else missing for name in PREDICTORS}


def reference_rows(rows: Sequence[ComparisonRow]) -> list[tuple[list[str], list[ReferenceRow]]]:
    """The reference predictors of the runs, one block per distinct set of values.

    A run without references whose baseline equals that of a block with references (the same
    data and split) joins that block.

    Returns
    -------
    list
        ``(runs, rows)`` per block: the names of the runs that share these references (all runs
        when they were scored on the same data) and one :class:`ReferenceRow` per predictor.
    """
    references = [_references_of(row) for row in rows]
    keys = [tuple((r.corr, r.reason) for r in refs.values()) for refs in references]
    recorded = {
        refs["baseline"].corr: key
        for row, refs, key in zip(rows, references, keys, strict=True)
        if row.references is not None and refs["baseline"].corr is not None
    }
    values = dict(zip(keys, references, strict=True))  # equal keys: equal scores
    blocks: dict[tuple, tuple[list[str], dict[str, Reference]]] = {}
    for row, key in zip(rows, keys, strict=True):
        if row.references is None and row.baseline in recorded:
            key = recorded[row.baseline]
        blocks.setdefault(key, ([], values[key]))[0].append(row.run)
    return [
        (
            runs,
            [
                ReferenceRow(
                    name,
                    label,
                    references[name],
                    references["baseline"].corr,
                    references[CEILING].corr,
                )
                for name, label in PREDICTORS.items()
            ],
        )
        for runs, references in blocks.values()
    ]
