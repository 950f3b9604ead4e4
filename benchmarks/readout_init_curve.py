"""Validation corr against training steps for both readout initialisations.

Runs ``train.py`` once per initialisation (``readout_init=population_peak`` and
``readout_init=authors``) with the same config otherwise, validating every ``--every`` steps, and
prints one table: step, val/corr of each. Any further arguments are Hydra overrides shared by
both runs (the default is the demo's fine-tuning of mouse A on its shipped core).

    .venv/bin/python benchmarks/readout_init_curve.py --out outputs/benchmarks/readout_init \\
        [--every 8] [--] [overrides ...]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

from brainenc.runs.folder import read_run_record
from brainenc.runs.history import metrics_csv

INITIALISATIONS = ("population_peak", "authors")
ROOT = Path(__file__).resolve().parents[1]


def validation_curve(run_dir: Path) -> dict[int, float]:
    """``{step: val/corr}`` from a run's CSV log (step 0: before training)."""
    curve: dict[int, float] = {}
    path = metrics_csv(run_dir)
    if path is None:
        raise FileNotFoundError(f"{run_dir}: no csv/metrics.csv (run with logger=csv)")
    with path.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            if row.get("val/corr"):
                curve[int(row["step"])] = float(row["val/corr"])
    return curve


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/benchmarks/readout_init"))
    parser.add_argument("--every", type=int, default=8, help="validate every this many steps")
    parser.add_argument("overrides", nargs="*", default=["experiment=demo"])
    args = parser.parse_args()
    curves = {}
    for init in INITIALISATIONS:
        run_dir = args.out / init
        command = [
            sys.executable,
            str(ROOT / "train.py"),
            *args.overrides,
            f"readout_init={init}",
            "logger=csv",
            f"+trainer.val_check_interval={args.every}",
            f"hydra.run.dir={run_dir}",
        ]
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True)
        curves[init] = validation_curve(run_dir)
        initial = read_run_record(run_dir).metrics.get("val/corr_initial")
        if initial is not None:
            curves[init][0] = initial
    steps = sorted(set().union(*curves.values()))
    print("\n| step | " + " | ".join(f"val/corr, {i}" for i in INITIALISATIONS) + " |")
    print("|---:|" + "---:|" * len(INITIALISATIONS))
    for step in steps:
        cells = [f"{curves[i][step]:.4f}" if step in curves[i] else "" for i in INITIALISATIONS]
        print(f"| {step} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
