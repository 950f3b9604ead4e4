"""Helpers of the fault suite (imported by its tests and its conftest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from brainenc.conf import CONFIG_DIR

REPO = Path(__file__).resolve().parents[2]


def nwb_settings(path: Path, **extra: Any) -> dict[str, Any]:
    """Build settings for mouse ``A`` from one NWB file, without figures."""
    return {"source": "nwb", "mice": {"A": [str(path)]}, "figures": False, **extra}


def folder_snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of a folder (relative path -> bytes), to prove it was not touched."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def manifest_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def compose_run(overrides: list[str], output_dir: Path) -> DictConfig:
    """``conf/train.yaml`` composed as ``python train.py`` would, writing into ``output_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        del cfg.hydra
    GlobalHydra.instance().clear()
    return cfg
