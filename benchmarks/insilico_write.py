"""Write time, file size and peak memory of one simulated session (default: full size, mouse A).

Times the two phases separately: rendering the movie templates (shared by every mouse of a
cache) and simulating + writing the session (``<id>.nwb`` and ``<id>.truth.npz``). With
``--read`` it also times allensdk opening the file and reading the corrected traces.

    .venv/bin/python benchmarks/insilico_write.py [--scale full] [--mouse A] [--read] [--keep DIR]
"""

from __future__ import annotations

import argparse
import platform
import resource
import tempfile
import time
from pathlib import Path

from brainenc.insilico import make_templates, session_config, truth_path, write_session

MB = 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="full")
    parser.add_argument("--mouse", default="A")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--read", action="store_true", help="also time reading with allensdk")
    parser.add_argument("--keep", type=Path, help="write here and keep the files")
    args = parser.parse_args()

    config = session_config(args.mouse, args.scale, args.seed)
    with tempfile.TemporaryDirectory(prefix="insilico_bench_") as scratch:
        folder = args.keep or Path(scratch)
        path = folder / f"{config.experiment_id}.nwb"
        start = time.perf_counter()
        templates = make_templates(config)
        rendered = time.perf_counter()
        write_session(path, config, templates)
        written = time.perf_counter()
        rows = [
            (
                "session",
                f"mouse {config.mouse_id}, scale {args.scale}, {config.n_neurons} neurons, "
                f"{config.n_frames} frames, templates "
                f"{config.template_height}x{config.template_width}",
            ),
            ("render templates", f"{rendered - start:.1f} s"),
            ("simulate + write session", f"{written - rendered:.1f} s"),
            ("total", f"{written - start:.1f} s"),
            ("NWB file", f"{path.stat().st_size / MB:.0f} MB"),
            ("truth file", f"{truth_path(path).stat().st_size / MB:.0f} MB"),
            ("peak RSS", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"),
        ]
        if args.read:
            from allensdk.core.brain_observatory_nwb_data_set import BrainObservatoryNwbDataSet

            begin = time.perf_counter()
            _, traces = BrainObservatoryNwbDataSet(str(path)).get_corrected_fluorescence_traces()
            rows.append(
                (
                    "allensdk read corrected traces",
                    f"{time.perf_counter() - begin:.1f} s {traces.shape}",
                )
            )
        rows.append(
            (
                "machine",
                f"{platform.processor() or platform.machine()}, python {platform.python_version()}",
            )
        )
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
