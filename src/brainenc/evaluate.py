"""``python -m brainenc.evaluate RUN_DIR [--predictions FILE.npz]``: score a run on a split.

Writes ``RUN_DIR/evaluation/metrics.json`` and figures (see
:func:`brainenc.evaluation.predictions.evaluate_predictions`), and prints the scores, then the
model among the reference predictors of the same frames (noise ceiling for in-silico mice). Without ``--predictions`` the
run's selected model (``export/model.pt``) predicts the split; a predictions file instead holds
one ``(S, N, L)`` array per mouse id (the split's samples in ascending sample index, the last L
frames of each clip), e.g. from an ensemble.

The run folder is read as data (its config builds only allow-listed brainenc classes, see
:mod:`brainenc.runs.stored_config`) and locked while the command writes into it; an output
folder that cannot be written is reported before any prediction is made.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from brainenc.atomic_files import DiskFullError, UnwritableFolderError, check_writable
from brainenc.data.mouse_folder import SPLITS
from brainenc.evaluation.metrics import DEFAULT_SKIP
from brainenc.evaluation.predictions import evaluate_predictions, load_predictions
from brainenc.evaluation.references import (
    combine_references,
    read_references,
    reference_scores,
    score_table,
)
from brainenc.runs.folder import (
    EVALUATION_FOLDER,
    EXPORTED_MODEL,
    METRICS,
    RunRecord,
    config_value,
    dataset_dir_of_run,
    read_run_record,
)
from brainenc.runs.lock import RunFolderBusyError, lock_run_folder


def run_skip(record: RunRecord) -> int:
    """The skip a run was scored with (``evaluation.skip``), else the default."""
    skip = config_value(record.config, "evaluation.skip")
    return DEFAULT_SKIP if skip is None else int(skip)


def reference_table(
    dataset_dir: Path, mice: list[str], split: str, skip: int, model: float | None
) -> str:
    """The model's score among the references of its mice on ``split`` (baseline, stimulus-blind
    control, ridge and, for in-silico mice, the stimulus-locked truth and the noise ceiling)."""
    try:
        per_mouse = {m: reference_scores(Path(dataset_dir) / m, split, skip) for m in mice}
    except (FileNotFoundError, ValueError) as error:
        return f"references: n/a ({error})"
    references = read_references({"references": combine_references(per_mouse)}, split)
    return score_table(references or {}, {"model": model}, split)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m brainenc.evaluate", description=__doc__)
    parser.add_argument("run_dir", type=Path, help="training run directory")
    parser.add_argument(
        "--predictions",
        type=Path,
        help=".npz with one (samples, neurons, frames) array per mouse id "
        f"(default: predict with the run's {EXPORTED_MODEL})",
    )
    parser.add_argument("--split", default="test", choices=SPLITS)
    parser.add_argument(
        "--skip",
        type=int,
        help="frames left out at each clip start, 24 at least (default: the run's "
        f"evaluation.skip, else {DEFAULT_SKIP})",
    )
    parser.add_argument("--dataset-dir", type=Path, help="dataset root (default: from the run)")
    parser.add_argument("--checkpoint", help="checkpoint of the predictions (default: the run's)")
    args = parser.parse_args(argv)
    out_dir = args.run_dir / EVALUATION_FOLDER
    try:
        record = read_run_record(args.run_dir)
        check_writable(out_dir, "RUN_DIR")
        with lock_run_folder(args.run_dir, "RUN_DIR"):
            if args.predictions is None:
                from brainenc.training.prediction import predict_split

                predictions = predict_split(args.run_dir, args.split)
            else:
                predictions = load_predictions(args.predictions)
            payload = evaluate_predictions(
                predictions,
                args.dataset_dir or dataset_dir_of_run(record),
                args.run_dir,
                split=args.split,
                skip=args.skip if args.skip is not None else run_skip(record),
                checkpoint=args.checkpoint or record.metrics.get("checkpoint"),
                predictions_file=args.predictions,
            )
    except (
        FileNotFoundError,
        ValueError,
        UnwritableFolderError,
        DiskFullError,
        RunFolderBusyError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, value in sorted(payload["values"].items()):
        print(f"{name:40s} {'n/a' if value is None else format(value, '.4f')}")
    skip = args.skip if args.skip is not None else run_skip(record)
    dataset_dir = args.dataset_dir or dataset_dir_of_run(record)
    model = payload["values"].get(f"{args.split}/corr")
    print(reference_table(dataset_dir, list(predictions), args.split, skip, model))
    print(f"wrote {out_dir / METRICS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
