"""Offline scoring of reference predictors for one built mouse folder.

``python -m brainenc.evaluation references MOUSE_DIR [--split test] [--skip 24] [--no-ridge]``
prints every reference predictor of :mod:`brainenc.evaluation.references` (trial-average
baseline, stimulus-blind control, ridge, and for in-silico mice the stimulus-locked truth and the
noise ceiling) with its fraction of the noise ceiling.

``python -m brainenc.evaluation ridge MOUSE_DIR`` fits the ridge reference alone and prints the
chosen lambda, the validation curve and the score on ``--split``.

``python -m brainenc.evaluation baseline MOUSE_DIR`` prints the seed's baselines and the oracle,
for one built mouse folder and on the model's scored frames:

1. sample-based: the trial average of clip ``--clip`` (0-based; the seed's "clip 1" is 0) of
   each movie against each ``--split`` repeat of it (the seed's four correlations);
2. all-clips: the mean single-trial correlation of the trial average over every ``--split``
   sample, per repeat and overall (the seed's 0.022-0.0235 on session 501729039);
3. the jackknife oracle (mean of all other repeats) on the same samples and on all repeats;
4. for an in-silico mouse, the noise ceiling: its noise-free signal (``<session>.truth.npz``
   beside each NWB file) scored against the recorded ``--split`` samples; "n/a" for real
   recordings.

Every command takes ``--json PATH`` to also write its numbers as JSON.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from brainenc.atomic_files import write_json_atomic
from brainenc.data.mouse_folder import SPLITS, MouseFolder
from brainenc.evaluation.baseline import jackknife_oracle, sample_baseline, trial_average_baseline
from brainenc.evaluation.ceiling import NoNoiseFreeSignalError, noise_ceiling
from brainenc.evaluation.metrics import DEFAULT_SKIP, scored_frames
from brainenc.evaluation.references import (
    NO_SIGNAL_REASON,
    PREDICTORS,
    reference_scores,
)
from brainenc.evaluation.ridge import ridge_reference

CEILING_LABEL = "noise ceiling (noise-free signal vs recorded)"


def ceiling_summary(mouse: MouseFolder, split: str, skip: int) -> dict[str, Any]:
    """The noise ceiling as JSON-ready numbers, or ``corr`` None with the reason."""
    try:
        ceiling = noise_ceiling(mouse, split, skip)
    except NoNoiseFreeSignalError as error:
        return {"corr": None, "reason": NO_SIGNAL_REASON, "detail": str(error)}
    return {
        "corr": ceiling.value,
        "corr_pooled": ceiling.pooled,
        "per_repeat": {str(r): v for r, v in ceiling.per_repeat.items()},
        "num_samples": ceiling.num_samples,
        "truth_files": [str(path) for path in ceiling.truth_files],
    }


def baseline_summary(mouse: MouseFolder, clip: int, split: str, skip: int) -> dict[str, Any]:
    """All numbers printed by the command, as a JSON-ready dict."""
    window = scored_frames(mouse.num_frames, skip)
    all_clips = trial_average_baseline(mouse, split=split, skip=skip)
    on_split = jackknife_oracle(mouse, split=split, skip=skip)
    on_all = jackknife_oracle(mouse, split=None, skip=skip)
    return {
        "mouse_folder": str(mouse.folder),
        "split": split,
        "skip": skip,
        "scored_frames": [window.start, window.stop],
        "sample_based": [vars(score) for score in sample_baseline(mouse, clip, split, skip)],
        "all_clips": {
            "corr": all_clips.value,
            "corr_pooled": None if all_clips.scores is None else all_clips.scores.corr_pooled,
            "per_repeat": {str(r): v for r, v in all_clips.per_repeat.items()},
            "reason": all_clips.reason,
            "unseen_clips": [list(key) for key in all_clips.unseen_clips],
        },
        "oracle": {
            split: {"corr": on_split.value, "corr_pooled": on_split.scores.corr_pooled},
            "all": {"corr": on_all.value, "corr_pooled": on_all.scores.corr_pooled},
        },
        "noise_ceiling": ceiling_summary(mouse, split, skip),
    }


def _print_summary(summary: dict[str, Any]) -> None:
    start, stop = summary["scored_frames"]
    print(f"{summary['mouse_folder']}: {summary['split']} split, frames {start}..{stop - 1}")
    print("sample-based (trial average of one clip vs single repeats):")
    for row in summary["sample_based"]:
        print(
            f"  {row['movie']:22s} clip {row['clip']:3d} repeat {row['repeat']:3d}  {row['corr']:.4f}"
        )
    all_clips = summary["all_clips"]
    print("all clips (mean single-trial correlation of the trial average):")
    if all_clips["corr"] is None:
        print(f"  n/a ({all_clips['reason']}: {all_clips['unseen_clips']})")
    else:
        for repeat, value in all_clips["per_repeat"].items():
            print(f"  repeat {repeat:>3s}  {value:.4f}")
        print(f"  overall     {all_clips['corr']:.4f}  (pooled {all_clips['corr_pooled']:.4f})")
    print("jackknife oracle (mean of all other repeats):")
    for scope, value in summary["oracle"].items():
        print(f"  {scope:10s}  {value['corr']:.4f}  (pooled {value['corr_pooled']:.4f})")
    ceiling = summary["noise_ceiling"]
    if ceiling["corr"] is None:
        print(f"{CEILING_LABEL}: n/a ({ceiling['reason']})")
    else:
        print(f"{CEILING_LABEL}: {ceiling['corr']:.4f}  (pooled {ceiling['corr_pooled']:.4f})")


def _print_references(summary: dict[str, Any]) -> None:
    start, stop = summary["scored_frames"]
    print(
        f"{summary['mouse_folder']}: {summary['split']} split, {summary['num_samples']} samples, "
        f"{summary['num_neurons']} neurons, frames {start}..{stop - 1}"
    )
    header = ("predictor", f"{summary['split']} corr", "pooled", "fraction of noise ceiling")
    rows, notes = [header], [""]
    for name, label in PREDICTORS.items():
        entry = summary[name]
        fraction = entry["fraction_of_ceiling"]
        if entry["corr"] is None:
            rows.append((label, "n/a", "n/a", "n/a"))
            notes.append(f"  ({entry['reason']})")
            continue
        corr, pooled = f"{entry['corr']:.4f}", f"{entry['corr_pooled']:.4f}"
        rows.append((label, corr, pooled, "n/a" if fraction is None else f"{fraction:.3f}"))
        notes.append("")
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row, note in zip(rows, notes, strict=True):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        print(("  ".join(cells) + note).rstrip())


def ridge_summary(mouse: MouseFolder, split: str, skip: int) -> dict[str, Any]:
    """The ridge reference as JSON-ready numbers."""
    ridge = ridge_reference(mouse, split, skip)
    return {
        "mouse_folder": str(mouse.folder),
        "split": split,
        "skip": skip,
        "lambda": ridge.penalty,
        "validation_corr": {f"{k:g}": v for k, v in ridge.validation_curve.items()},
        "corr": ridge.value,
        "corr_pooled": ridge.result.scores.corr_pooled,
        "per_repeat": {str(r): v for r, v in ridge.result.per_repeat.items()},
        "num_features": ridge.num_features,
        "num_training_frames": ridge.num_training_frames,
    }


def _print_ridge(summary: dict[str, Any]) -> None:
    print(
        f"{summary['mouse_folder']}: ridge on {summary['num_features']} lagged features, fitted "
        f"on {summary['num_training_frames']} training frames"
    )
    print("validation curve (mean single-trial correlation):")
    for penalty, value in summary["validation_corr"].items():
        chosen = "  <- chosen" if penalty == f"{summary['lambda']:g}" else ""
        print(f"  lambda {penalty:>8s}  {value:.4f}{chosen}")
    print(
        f"{summary['split']}: {summary['corr']:.4f}  (pooled {summary['corr_pooled']:.4f}, "
        f"lambda {summary['lambda']:g})"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m brainenc.evaluation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    helps = {
        "references": "every reference predictor with its fraction of the noise ceiling",
        "ridge": "the ridge reference alone: chosen lambda, validation curve, score",
        "baseline": "trial-average baselines and oracle",
    }
    for name, text in helps.items():
        command = commands.add_parser(name, help=text)
        command.add_argument("mouse_dir", type=Path, help="built mouse folder <root>/<mouse_id>")
        command.add_argument("--split", default="test", choices=SPLITS)
        command.add_argument(
            "--skip",
            type=int,
            default=DEFAULT_SKIP,
            help="frames left out at each clip start (24 at least)",
        )
        command.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
        if name == "references":
            command.add_argument("--no-ridge", action="store_true", help="skip the ridge fit")
        if name == "baseline":
            command.add_argument(
                "--clip", type=int, default=0, help="clip of the sample-based approach"
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        mouse = MouseFolder(args.mouse_dir)
        if args.command == "references":
            summary = reference_scores(mouse, args.split, args.skip, not args.no_ridge).as_dict()
            show = _print_references
        elif args.command == "ridge":
            summary, show = ridge_summary(mouse, args.split, args.skip), _print_ridge
        else:
            summary = baseline_summary(mouse, args.clip, args.split, args.skip)
            show = _print_summary
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    show(summary)
    if args.json is not None:
        write_json_atomic(args.json, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
