"""Opening a built dataset checks it against its manifest: sizes always (cheap), sha256 once per
file and again after any change (the default, `verify="cached"`), or of every file on demand;
every message names the file and how to rebuild. Arrays are never unpickled. Samples are checked
for their shape and for NaN when read, and scoring refuses non-finite recorded responses.

tests/data/test_build.py already checks a truncated response file; here: missing, tampered
(same size), swapped, extra manifest damage, and a pickle hidden in an array file.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from brainenc.data import mouse_folder as layout
from brainenc.data.dataset import MouseDataset
from brainenc.data.errors import DatasetIntegrityError
from brainenc.digests import sha256_file
from brainenc.evaluation.baseline import jackknife_oracle, trial_average_baseline
from brainenc.evaluation.scoring import score_predictions
from brainenc.evaluation.streaming import BaselineTable, PerTrialCorrelation, PooledCorrelation

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


def replace_array(
    folder: Path, relative: str, array: np.ndarray, record_shape: bool = True
) -> None:
    """Write ``array`` at ``relative`` and fix its manifest record, as a careless edit would."""
    path = folder / relative
    np.save(path, array)
    manifest = json.loads((folder / "manifest.json").read_text())
    record = manifest["arrays"][relative]
    record.update(bytes=path.stat().st_size, sha256=sha256_file(path))
    if record_shape:
        record["shape"] = list(array.shape)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def first_test_sample(folder: Path) -> int:
    return int(np.flatnonzero(np.load(folder / "meta/trials/split.npy") == "test")[0])


def write_nan_keeping_the_size(path: Path) -> None:
    values = np.load(path)
    values[0, 50] = np.nan
    size = path.stat().st_size
    np.save(path, values)
    assert path.stat().st_size == size


def age_files(folder: Path, seconds: float = 60) -> None:
    """Date every file back, as for a dataset built a while ago."""
    for path in folder.rglob("*"):
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - int(seconds * 1e9)))


def test_same_size_nan_in_a_test_sample_is_caught_by_the_default_check(copy):
    relative = f"data/responses/{first_test_sample(copy)}.npy"
    write_nan_keeping_the_size(copy / relative)
    with pytest.raises(DatasetIntegrityError, match=f"{relative} does not match its sha256"):
        MouseDataset(copy, split="test")


def test_nan_sample_is_refused_when_read_and_when_scored(copy):
    index = first_test_sample(copy)
    path = copy / f"data/responses/{index}.npy"
    write_nan_keeping_the_size(path)
    dataset = MouseDataset(copy, split=None, verify="size")  # the cheap check cannot see it
    with pytest.raises(DatasetIntegrityError, match=f"{path} holds 1 non-finite value"):
        dataset[index]
    for scorer in (trial_average_baseline, jackknife_oracle):
        with pytest.raises(ValueError, match=f"{path} holds 1 non-finite value"):
            scorer(copy, split="test")
    train = copy / "data/responses/0.npy"  # the baseline averages training repeats
    write_nan_keeping_the_size(train)
    with pytest.raises(ValueError, match=f"{train} holds 1 non-finite value"):
        BaselineTable.from_folders({"A": copy})


def test_scoring_refuses_non_finite_recorded_responses():
    rng = np.random.default_rng(0)
    predictions, targets = rng.normal(size=(2, 3, 4, 60))
    good = score_predictions(predictions, targets)
    targets[1, 2, 40] = np.nan
    with pytest.raises(ValueError, match=r"1 non-finite value\(s\) \(first at sample 1, neuron 2"):
        score_predictions(predictions, targets)
    metric = PooledCorrelation(num_neurons=4)
    scored = slice(24, None)
    batch = torch.as_tensor(predictions[..., scored]), torch.as_tensor(targets[..., scored])
    with pytest.raises(ValueError, match=r"non-finite value\(s\) \(first at batch sample 1"):
        metric.update(*batch)
    with pytest.raises(ValueError, match="non-finite"):
        PerTrialCorrelation().update(*batch)
    predictions[0, 0, 30] = np.nan  # a broken model still scores (its NaN correlation counts 0)
    targets[1, 2, 40] = 0.0
    assert np.isfinite(score_predictions(predictions, targets).corr) and np.isfinite(good.corr)


def test_verification_cache_hashes_each_file_once(copy, monkeypatch):
    age_files(copy)
    calls: list[Path] = []
    original = layout.sha256_file

    def counting(path: Path, *args) -> str:
        calls.append(path)
        return original(path, *args)

    monkeypatch.setattr(layout, "sha256_file", counting)
    MouseDataset(copy)
    assert (copy / layout.VERIFIED).is_file()
    calls.clear()
    MouseDataset(copy)
    assert calls == []  # unchanged files cost a stat each
    relative = f"data/responses/{first_test_sample(copy)}.npy"
    write_nan_keeping_the_size(copy / relative)
    with pytest.raises(DatasetIntegrityError, match=f"{relative} does not match its sha256"):
        MouseDataset(copy)
    assert calls == [copy / relative]
    with pytest.raises(DatasetIntegrityError, match=f"{relative} does not match"):
        MouseDataset(copy)  # still refused on the next open


@pytest.mark.parametrize("record_shape", [True, False], ids=["manifest-fixed", "shape-unchanged"])
def test_wrong_shape_sample_with_a_matching_manifest_is_named(copy, record_shape):
    relative = "data/responses/3.npy"
    replace_array(copy, relative, np.load(copy / relative).T.copy(), record_shape)
    if record_shape:  # refused when opened, before anything is trained
        with pytest.raises(DatasetIntegrityError, match=f"{relative}: the manifest records shape"):
            MouseDataset(copy, split=None)
        return
    dataset = MouseDataset(copy, split=None)
    with pytest.raises(DatasetIntegrityError, match=rf"{relative} has shape \(\d+, \d+\), but"):
        dataset[3]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("arrays"), "has no valid 'arrays' table"),
        (lambda m: m["arrays"].update({"data/responses/0.npy": 12}), "no valid 'arrays' table"),
        (lambda m: m.pop("neurons"), "'neurons' is None, expected a int"),
        (lambda m: m.update(frame_size="36x64"), "'frame_size' is '36x64', expected a list"),
    ],
    ids=["no-arrays", "bad-record", "no-neurons", "bad-frame-size"],
)
def test_manifest_with_missing_or_wrong_entries_is_named(copy, edit, message):
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetIntegrityError, match=f"manifest.json.*{message}.*{REBUILD}"):
        MouseDataset(copy)


def test_manifest_that_is_a_json_list_is_named(copy):
    (copy / "manifest.json").write_text(json.dumps([1, 2, 3]))
    with pytest.raises(
        DatasetIntegrityError, match=f"holds a JSON list, expected an object.*{REBUILD}"
    ):
        MouseDataset(copy)


def test_unknown_or_shuffled_split_labels_are_named(copy):
    relative = "meta/trials/split.npy"
    split = np.load(copy / relative)
    replace_array(copy, relative, np.where(split == "train", "training", split))
    with pytest.raises(
        DatasetIntegrityError, match=rf"{relative} holds unknown split label\(s\) \['training'\]"
    ):
        MouseDataset(copy)
    replace_array(copy, relative, np.where(split == "train", "test", "train"))
    with pytest.raises(
        DatasetIntegrityError, match=rf"{relative} has .* samples per split, the manifest says"
    ):
        MouseDataset(copy)
