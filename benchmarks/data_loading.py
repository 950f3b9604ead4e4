"""Dataset build time of one full-size in-silico session and the DataModule's loading rate.

The build is timed by ``benchmarks/dataset_build.py`` in a subprocess (its printed ``build:``
line is quoted; it writes the in-silico cache first when absent, untimed); the loading rate
iterates the training loader of a :class:`BrainDataModule` over the built folder (batch 1, no
workers), which is then removed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / "outputs" / "benchmarks"


def build_line(folder: Path) -> str:
    """Run the dataset-build benchmark into the new ``folder``; return its ``build:`` line."""
    command = [sys.executable, str(ROOT / "benchmarks" / "dataset_build.py"), "--keep", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"dataset_build.py failed:\n{done.stderr[-2000:]}")
    return next(line for line in done.stdout.splitlines() if line.startswith("build:"))


def loading_rate(folder: Path, batch_size: int = 1, seconds: float = 10.0) -> float:
    """Training samples per second that the DataModule delivers (loops over the split)."""
    from brainenc.data import BrainDataModule

    datamodule = BrainDataModule(folder, batch_size=batch_size)
    datamodule.setup()
    samples, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for batch in datamodule.train_dataloader():
            samples += batch["video"].shape[0]
            if time.perf_counter() - start >= seconds:
                break
    return samples / (time.perf_counter() - start)


def data_lines(train_samples_per_second: float | None) -> list[str]:
    """Result lines: build time, loading rate, and its ratio to the training step's rate."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dataset_", dir=SCRATCH) as scratch:
        folder = Path(scratch) / "built"
        build = build_line(folder)
        rate = loading_rate(folder)
    lines = ["", "## Data", "", f"- full-size dataset build (mouse A): {build}"]
    lines.append(f"- DataModule loading, batch 1, no workers: {rate:.1f} samples/s")
    if train_samples_per_second:
        lines.append(
            f"- loading / training consumption (LoRA-8 step, batch 1): "
            f"{rate / train_samples_per_second:.0f}x (target >= 10x)"
        )
    return lines
