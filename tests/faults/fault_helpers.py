"""Helpers of the fault suite (imported by its tests and its conftest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def nwb_settings(path: Path, **extra: Any) -> dict[str, Any]:
    """Build settings for mouse ``A`` from one NWB file, without figures."""
    return {"source": "nwb", "mice": {"A": [str(path)]}, "figures": False, **extra}


def folder_snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of a folder (relative path -> bytes), to prove it was not touched."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def manifest_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())
