"""Fixtures of the fault suite: a good in-silico session, damaged copies of it, a built dataset.

Every fault is made from real files: NWB sessions written by `brainenc.insilico` (read back through
allensdk) and edited with h5py, dataset folders written by the real builder.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import pytest
from fault_helpers import folder_snapshot, nwb_settings

from brainenc.data.build import build_dataset


@pytest.fixture(scope="session")
def edited_session(
    insilico_session: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, Callable[[h5py.File], None]], Path]:
    """``edited_session(name, edit)``: a copy of mouse A's session with ``edit(h5py.File)`` applied."""
    folder = tmp_path_factory.mktemp("edited_sessions")

    def make(name: str, edit: Callable[[h5py.File], None]) -> Path:
        path = folder / f"{name}.nwb"
        if not path.exists():
            shutil.copyfile(insilico_session, path)
            with h5py.File(path, "r+") as file:
                edit(file)
        return path

    return make


@pytest.fixture(scope="session")
def built_dataset(insilico_session: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mouse A built once from the good session; copy it before damaging it."""
    root = tmp_path_factory.mktemp("built")
    build_dataset(nwb_settings(insilico_session), root)
    return root / "A"


@pytest.fixture
def existing_dataset(built_dataset: Path, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A fresh copy of the built dataset under ``tmp_path/root/A`` and its file snapshot."""
    root = tmp_path / "root"
    shutil.copytree(built_dataset, root / "A")
    return root, folder_snapshot(root / "A")
