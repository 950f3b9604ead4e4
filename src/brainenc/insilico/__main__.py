"""Command line: write an offline Allen Brain Observatory cache of simulated mice.

Examples::

    python -m brainenc.insilico --out outputs/insilico --scale demo
    python -m brainenc.insilico --out outputs/insilico_clean --scale demo --profile clean
    python -m brainenc.insilico --out /tmp/cache --scale test --mice A,B --seed 3 \\
        --set noise_std=2 --set B.eye_tracking=false
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from brainenc.insilico.cache import write_cache
from brainenc.insilico.presets import (
    DEFAULT_PROFILE,
    MOUSE_PRESETS,
    PROFILE_PRESETS,
    SCALE_PRESETS,
    parse_override,
    session_config,
)
from brainenc.insilico.session_config import SessionConfig, SessionConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m brainenc.insilico",
        description="Simulate mice and write them as an offline allensdk BrainObservatoryCache "
        "directory (NWB 1.x sessions + <id>.truth.npz).",
    )
    parser.add_argument("--out", type=Path, required=True, help="cache directory to write")
    parser.add_argument("--scale", default="full", help=f"size preset: {', '.join(SCALE_PRESETS)}")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    parser.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        help=f"activity profile: {', '.join(PROFILE_PRESETS)} (default {DEFAULT_PROFILE}); "
        "clean = no non-stimulus activity, every neuron visually responsive",
    )
    parser.add_argument(
        "--mice", default="A,B,C", help=f"comma-separated mice among {', '.join(MOUSE_PRESETS)}"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="[MOUSE.]KEY=VALUE",
        help="override a SessionConfig field for all mice, or for one with a MOUSE. prefix "
        "(repeatable), e.g. --set noise_std=2 --set B.eye_tracking=false",
    )
    return parser


def build_configs(
    scale: str,
    seed: int,
    mice: list[str],
    overrides: list[str],
    profile: str = DEFAULT_PROFILE,
) -> list[SessionConfig]:
    """The configs of ``mice`` at ``scale`` and ``profile`` with ``[MOUSE.]KEY=VALUE`` overrides."""
    shared: dict[str, Any] = {}
    per_mouse: dict[str, dict[str, Any]] = {mouse: {} for mouse in mice}
    for text in overrides:
        target, dot, rest = text.partition(".")
        if dot and target in MOUSE_PRESETS and "=" not in target:
            if target not in per_mouse:
                raise SessionConfigError(
                    f"override {text!r} names mouse {target}, which is not in {mice}"
                )
            key, value = parse_override(rest)
            per_mouse[target][key] = value
        else:
            key, value = parse_override(text)
            shared[key] = value
    return [
        session_config(mouse, scale, seed, profile, **{**shared, **values})
        for mouse, values in per_mouse.items()
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    mice = [m.strip() for m in args.mice.split(",") if m.strip()]
    try:
        configs = build_configs(args.scale, args.seed, mice, args.overrides, args.profile)
    except SessionConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    manifest = write_cache(args.out, configs)
    for c in configs:
        print(
            f"mouse {c.mouse_id}: experiment {c.experiment_id}, {c.n_neurons} neurons, "
            f"{c.n_frames} frames -> {args.out / 'ophys_experiment_data' / f'{c.experiment_id}.nwb'}"
        )
    print(f"wrote {manifest} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
