"""Opening a built dataset checks it against its manifest: sizes always (cheap), sha256 on demand;
every message names the file and how to rebuild. Arrays are never unpickled.

tests/data/test_build.py already checks a truncated response file; here: missing, tampered
(same size), swapped, extra manifest damage, and a pickle hidden in an array file.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from brainenc.data.dataset import MouseDataset
from brainenc.data.errors import DatasetIntegrityError

REBUILD = r"python -m brainenc\.data\.build data\.build\.overwrite=true"


class CreatesMarker:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def copy(built_dataset: Path, tmp_path: Path) -> Path:
    shutil.copytree(built_dataset, tmp_path / "A")
    return tmp_path / "A"


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "relative",
    [
        "data/responses/0.npy",
        "data/videos/7.npy",
        "meta/trials/split.npy",
        "meta/statistics/responses/std.npy",
    ],
)
def test_missing_array_is_named(copy, relative):
    (copy / relative).unlink()
    with pytest.raises(DatasetIntegrityError, match=f"{relative} is missing.*{REBUILD}"):
        MouseDataset(copy)


@pytest.mark.parametrize("relative", ["data/responses/4.npy", "meta/neurons/coordinates.npy"])
def test_same_size_tampering_needs_the_hash_check(copy, relative):
    flip_one_byte(copy / relative)
    MouseDataset(copy, verify="size")  # sizes match: the cheap check cannot see it
    with pytest.raises(
        DatasetIntegrityError, match=f"{relative} does not match its sha256.*{REBUILD}"
    ):
        MouseDataset(copy, verify="hash")
    dataset = MouseDataset(copy, verify="size")
    with pytest.raises(DatasetIntegrityError, match=relative):
        dataset.verify(full=True)


def test_swapped_samples_are_caught_by_the_hash_check(copy):
    first, second = copy / "data/responses/1.npy", copy / "data/responses/2.npy"
    data = first.read_bytes()
    first.write_bytes(second.read_bytes())
    second.write_bytes(data)
    with pytest.raises(DatasetIntegrityError, match=r"responses/1\.npy does not match"):
        MouseDataset(copy, verify="hash")


def test_grown_file_is_caught_by_the_size_check(copy):
    with open(copy / "data/behavior/3.npy", "ab") as handle:
        handle.write(b"\0" * 16)
    with pytest.raises(DatasetIntegrityError, match=r"behavior/3\.npy has \d+ bytes, the manifest"):
        MouseDataset(copy)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda m: m.unlink(),
            r"no manifest.json\).*Build it with `python -m brainenc\.data\.build`",
        ),
        (lambda m: m.write_text(m.read_text()[:200]), f"is not valid JSON.*{REBUILD}"),
        (
            lambda m: m.write_text(json.dumps({**json.loads(m.read_text()), "format_version": 99})),
            f"format_version 99, this brainenc reads 1.*{REBUILD}",
        ),
    ],
    ids=["manifest-missing", "manifest-truncated", "manifest-from-the-future"],
)
def test_damaged_manifest_is_explained(copy, damage, message):
    damage(copy / "manifest.json")
    with pytest.raises((DatasetIntegrityError, FileNotFoundError), match=message):
        MouseDataset(copy)


def test_pickle_in_an_array_file_is_never_executed(copy, tmp_path):
    marker = tmp_path / "executed"
    target = copy / "data/responses/0.npy"
    payload = np.array([CreatesMarker(marker)], dtype=object)
    with open(target, "wb") as handle:
        np.lib.format.write_array(handle, payload, allow_pickle=True)
    manifest = json.loads((copy / "manifest.json").read_text())  # an attacker fixes the size
    manifest["arrays"]["data/responses/0.npy"]["bytes"] = target.stat().st_size
    (copy / "manifest.json").write_text(json.dumps(manifest))
    dataset = MouseDataset(copy, verify="size")
    with pytest.raises(
        DatasetIntegrityError, match=f"responses/0.npy is not a plain numeric .npy.*{REBUILD}"
    ):
        dataset[0]
    assert not marker.exists()
    with pytest.raises(DatasetIntegrityError, match=r"responses/0\.npy does not match"):
        dataset.verify(full=True)
    assert not marker.exists()
    pickle.loads(pickle.dumps(CreatesMarker(marker)))  # the payload really runs when unpickled
    assert marker.exists()
