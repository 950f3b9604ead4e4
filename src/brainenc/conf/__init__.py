"""brainenc's Hydra configs, shipped inside the package so that every entry point finds them.

``CONFIG_DIR`` is their folder: ``train.yaml`` (training) and ``build.yaml`` (dataset builds)
and one sub-folder per config group.
"""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
