"""Build time of one full-size in-silico session (mouse A: 227 neurons, 304x608 templates).

Writes the in-silico cache first if it is absent (timed separately; reused by later runs),
then times `build_dataset` from the cache through allensdk into a fresh folder: reading,
alignment, statistics, normalisation, writing and hashing 310 samples, and the figures.
Takes a few minutes on a laptop CPU.

    .venv/bin/python benchmarks/dataset_build.py [--cache-dir DIR] [--scale full] [--keep DIR]
"""

from __future__ import annotations

import argparse
import logging
import platform
import resource
import tempfile
import time
from pathlib import Path

from brainenc.data.build import build_dataset
from brainenc.data.mouse_folder import read_manifest

MB = 1024**2


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=Path("outputs/benchmarks/insilico_full"))
    parser.add_argument("--scale", default="full")
    parser.add_argument("--normalisation", default="seed", choices=["seed", "viv1t"])
    parser.add_argument("--keep", type=Path, help="build the dataset here and keep it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    settings = {
        "source": "insilico",
        "cache_dir": str(args.cache_dir),
        "insilico": {"scale": args.scale, "mice": ["A"]},
        "mice": {"A": [501729039]},
        "normalisation": args.normalisation,
    }
    cached = (args.cache_dir / "ophys_experiments.json").is_file()
    if not cached:
        from brainenc.data.config import BuildConfig
        from brainenc.data.sources import ensure_insilico_cache

        start = time.perf_counter()
        ensure_insilico_cache(args.cache_dir, BuildConfig.from_mapping(settings))
        print(f"wrote the in-silico cache in {time.perf_counter() - start:.1f} s")
    with tempfile.TemporaryDirectory(prefix="dataset_bench_") as scratch:
        root = args.keep or Path(scratch)
        start = time.perf_counter()
        build_dataset(settings, root)
        seconds = time.perf_counter() - start
        manifest = read_manifest(root / "A")
        nwb = Path(manifest["sources"][0]["path"])
        print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
        print(f"source: {nwb} ({nwb.stat().st_size / MB:.0f} MB)")
        print(
            f"build: {seconds:.1f} s for {manifest['samples']} samples x {manifest['neurons']} "
            f"neurons ({args.normalisation}), dataset {folder_size(root / 'A') / MB:.0f} MB, "
            f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )


if __name__ == "__main__":
    main()
