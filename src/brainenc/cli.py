"""The ``brainenc`` console script: one subcommand per job, each run by its package's command.

``brainenc <subcommand> [arguments]``; ``brainenc <subcommand> --help`` shows the subcommand's own
options (Hydra overrides for ``build`` and ``train``). The modules are imported only when their
subcommand runs, so ``brainenc --help`` starts without torch.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "insilico": (
        "brainenc.insilico.__main__",
        "write in-silico mice as Allen NWB files with an offline BrainObservatoryCache",
    ),
    "build": (
        "brainenc.data.build",
        "build a dataset of 140-frame clips from sessions (Hydra overrides: data=..., data.build.*)",
    ),
    "train": (
        "brainenc.training.__main__",
        "train and score an encoding model (Hydra overrides, as `python train.py`)",
    ),
    "evaluate": ("brainenc.evaluate", "score a finished run and the references on the same frames"),
    "baseline": (
        "brainenc.evaluation.__main__",
        "reference predictors of a built mouse folder: references | ridge | baseline",
    ),
    "report": ("brainenc.report", "compare runs against the references: table and curves"),
}
"""Subcommand -> (module with ``main()``, one-line help)."""


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    lines = [f"  {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items()]
    return (
        "usage: brainenc <subcommand> [arguments]\n\n"
        "Brain encoding of mouse V1 responses to natural movies.\n\nsubcommands:\n"
        + "\n".join(lines)
        + "\n\n`brainenc <subcommand> --help` shows a subcommand's options."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``brainenc <subcommand> ...``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, arguments = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"brainenc: unknown subcommand {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    command = importlib.import_module(SUBCOMMANDS[name][0])
    # Every subcommand reads its arguments from sys.argv (Hydra's do), as when run by itself.
    sys.argv = [f"brainenc {name}", *arguments]
    status = command.main()
    return status if isinstance(status, int) else 0
