"""Calibration of the in-silico mice against the real session's trial-average baseline.

For one activity profile, one scale and a list of seeds: writes the mice (``brainenc.insilico``),
builds their datasets through allensdk with the seed's normalisation and split (repeats 0-6
train, 7 validation, 8-9 test; per-neuron z-score) and scores, on the test split and the model's
scored frames (last 116 of each 140-frame clip), with the project's own evaluation code:

* trial-average baseline (`evaluation.baseline.trial_average_baseline`): mean single-trial
  correlation of the mean of the training repeats with each test repeat. The real session
  501729039 gives 0.022-0.0235 (the seed's report); the ``realistic`` profile is calibrated to it;
* jackknife oracle (`evaluation.baseline.jackknife_oracle`): each test repeat against the mean of
  the 9 other repeats;
* noise ceiling (`evaluation.ceiling.noise_ceiling`): the noise-free truth against the recorded
  test repeats;
* response sd: mean over neurons of the training-split sd of the corrected fluorescence (the
  seed normalisation's divisor), in fluorescence units and divided by each neuron's mean (~dF/F).

    .venv/bin/python benchmarks/insilico_calibration.py --profile realistic --scale demo \\
        --seeds 0,1,2 [--mice A] [--work DIR] [--keep]

A demo-scale seed takes about 30 s per mouse (write + build + score) on one CPU core; a full-scale
seed about 80 s and 4.4 GB of memory (1.7 GB of files, deleted unless --keep).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from brainenc.data.build import build_dataset
from brainenc.data.config import BuildConfig
from brainenc.data.mouse_folder import MouseFolder
from brainenc.data.sources import ensure_insilico_cache
from brainenc.evaluation.baseline import jackknife_oracle, trial_average_baseline
from brainenc.evaluation.ceiling import noise_ceiling
from brainenc.insilico import PROFILE_PRESETS, SCALE_PRESETS, session_config

REAL_BASELINE = (0.022, 0.0235)  # session 501729039, the seed's report
COLUMNS = ("seed", "mouse", "baseline", "oracle", "ceiling", "resp sd", "sd/mean", "s/seed")


def build_settings(cache_dir: Path, profile: str, scale: str, seed: int, mice: list[str]) -> dict:
    """Build settings of ``mice``: seed normalisation, the default (seed's) split, no figures."""
    return {
        "source": "insilico",
        "cache_dir": str(cache_dir),
        "insilico": {"scale": scale, "seed": seed, "mice": mice, "profile": profile},
        "mice": {m: [session_config(m, scale, seed, profile).experiment_id] for m in mice},
        "normalisation": "seed",
        "figures": False,
    }


def score_mouse(folder: Path) -> dict[str, float]:
    """Baseline, oracle and ceiling on the test split, and the mean response sd of one mouse."""
    mouse = MouseFolder(folder)
    statistics = mouse.statistics()["responses"]
    sd, mean = statistics["std"].astype(np.float64), statistics["mean"].astype(np.float64)
    return {
        "baseline": trial_average_baseline(mouse, split="test").value,
        "oracle": jackknife_oracle(mouse, split="test").value,
        "ceiling": noise_ceiling(mouse, split="test").value,
        "resp sd": float(sd.mean()),
        "sd/mean": float((sd / np.abs(mean)).mean()),
    }


def calibrate_seed(work: Path, profile: str, scale: str, seed: int, mice: list[str]) -> list[dict]:
    """Write, build and score the mice of one seed under ``work``; one row per mouse."""
    tag = f"insilico_{scale}_{profile}_seed{seed}"
    settings = build_settings(work / "cache" / tag, profile, scale, seed, mice)
    start = time.perf_counter()
    ensure_insilico_cache(work / "cache" / tag, BuildConfig.from_mapping(settings))
    build_dataset(settings, work / "datasets" / tag)
    rows = []
    for mouse in mice:
        row = {"seed": seed, "mouse": mouse, **score_mouse(work / "datasets" / tag / mouse)}
        rows.append(row)
    for row in rows:
        row["s/seed"] = time.perf_counter() - start  # write + build + score, all mice
    return rows


def format_table(rows: list[dict]) -> str:
    """Plain-text table of ``rows`` with a mean row per mouse when there are several seeds."""
    lines = [" ".join(f"{name:>9s}" for name in COLUMNS)]
    for row in rows:
        cells = [f"{row['seed']:>9d}", f"{row['mouse']:>9s}"]
        cells += [f"{row[name]:>9.4f}" for name in COLUMNS[2:-3]]
        cells += [f"{row['resp sd']:>9.2f}", f"{row['sd/mean']:>9.4f}", f"{row['s/seed']:>9.0f}"]
        lines.append(" ".join(cells))
    for mouse in dict.fromkeys(row["mouse"] for row in rows):
        mine = [row for row in rows if row["mouse"] == mouse]
        if len(mine) > 1:
            means = [np.mean([row[name] for row in mine]) for name in COLUMNS[2:]]
            cells = [f"{'mean':>9s}", f"{mouse:>9s}"] + [f"{v:>9.4f}" for v in means[:3]]
            cells += [f"{means[3]:>9.2f}", f"{means[4]:>9.4f}", f"{means[5]:>9.0f}"]
            lines.append(" ".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="realistic", choices=sorted(PROFILE_PRESETS))
    parser.add_argument("--scale", default="demo", choices=sorted(SCALE_PRESETS))
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--mice", default="A", help="comma-separated mice, e.g. A or A,B,C")
    parser.add_argument("--work", type=Path, help="write caches and datasets here")
    parser.add_argument("--keep", action="store_true", help="keep --work's files afterwards")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    mice = [m.strip() for m in args.mice.split(",") if m.strip()]
    work = args.work or Path(tempfile.mkdtemp(prefix="insilico_calibration_"))
    print(f"profile {args.profile}, scale {args.scale}, mice {','.join(mice)}, work {work}")
    print(f"real session 501729039: trial-average baseline {REAL_BASELINE[0]}-{REAL_BASELINE[1]}")
    rows: list[dict] = []
    try:
        for seed in seeds:
            rows += calibrate_seed(work, args.profile, args.scale, seed, mice)
            for line in format_table(rows[-len(mice) :]).splitlines()[1:]:
                print(line, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(format_table(rows))


if __name__ == "__main__":
    main()
