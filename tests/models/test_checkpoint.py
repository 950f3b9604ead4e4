"""Checkpoints in the authors' layout: round trips, safety and clear failures."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from brainenc.models import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from brainenc.models.checkpoint import NUMPY_SCALAR_GLOBALS

T = 30


class RunsACommand:
    """Unpickling this object would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Harmless:
    """A custom class: not allowed by weights_only, fine when trusted."""


@pytest.fixture
def trained(build_model, tmp_path):
    """A tiny model for mouse A saved in the authors' layout, with a numpy scalar scheduler."""
    model = build_model("tiny", {"A": 9}, seed=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    path = save_checkpoint(
        model,
        tmp_path / "ckpt" / "model_state.pt",
        epoch=12,
        value=0.2507,
        optimizer=optimizer,
        scheduler={"best_value": np.float64(0.2507), "best_epoch": 12, "mode": "max"},
    )
    return model, path


def predictions(model, make_inputs, mouse_id="A"):
    video, behavior, pupil = make_inputs(1, T)
    with torch.no_grad():
        return model.eval()(video, mouse_id, behavior, pupil)


def test_file_has_the_authors_layout_and_loads_with_weights_only(trained):
    model, path = trained
    with pytest.raises(pickle.UnpicklingError, match="numpy"):
        torch.load(path, weights_only=True)  # the numpy scalar needs the allow-list
    with torch.serialization.safe_globals(NUMPY_SCALAR_GLOBALS):
        raw = torch.load(path, weights_only=True, map_location="cpu")
    assert raw.keys() == {"epoch", "value", "model", "optimizer", "scheduler"}
    assert isinstance(raw["scheduler"]["best_value"], np.float64)
    assert raw["optimizer"]["param_groups"][0]["lr"] == 1e-3
    checkpoint = read_checkpoint(path)
    assert checkpoint.epoch == 12 and checkpoint.value == pytest.approx(0.2507)
    assert checkpoint.state_dict.keys() == model.state_dict().keys()
    assert not list(path.parent.glob("*.tmp")), "no temporary file may be left behind"


def test_round_trip_all(trained, build_model, make_inputs):
    model, path = trained
    fresh = build_model("tiny", {"A": 9}, seed=2)
    assert not torch.equal(predictions(fresh, make_inputs), predictions(model, make_inputs))
    info = load_checkpoint(fresh, path, part="all")
    assert (info.part, info.epoch, info.loaded_keys, info.mouse_ids) == (
        "all",
        12,
        9 + 8 * 2 + 22,
        ("A",),
    )
    assert info.ignored_keys == ()
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    torch.testing.assert_close(predictions(fresh, make_inputs), predictions(model, make_inputs))


def test_core_only_into_a_model_for_another_mouse(trained, build_model):
    model, path = trained
    other = build_model("tiny", {"B": 4}, seed=3)
    heads_before = {
        k: v.clone() for k, v in other.state_dict().items() if not k.startswith("core.")
    }
    info = load_checkpoint(other, path, part="core")
    assert info.part == "core" and info.mouse_ids == ("A",)
    assert info.loaded_keys == len([k for k in model.state_dict() if k.startswith("core.")])
    assert set(info.ignored_keys) == {k for k in model.state_dict() if not k.startswith("core.")}
    for key, value in other.state_dict().items():
        expected = model.state_dict()[key] if key.startswith("core.") else heads_before[key]
        assert torch.equal(value, expected), key


def test_bare_state_dict_loads(build_model, tmp_path):
    model = build_model("tiny", {"A": 9}, seed=1)
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    fresh = build_model("tiny", {"A": 9}, seed=2)
    info = load_checkpoint(fresh, tmp_path / "bare.pt")
    assert info.epoch is None and info.value is None
    assert torch.equal(fresh.readouts["A"].sigma, model.readouts["A"].sigma)


def test_all_refuses_different_mice_and_names_the_keys(trained, build_model):
    _, path = trained
    other = build_model("tiny", {"B": 4})
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(other, path, part="all")
    message = str(error.value)
    assert str(path) in message
    assert "missing keys (22): shifters.B.reg_scale" in message
    assert "unexpected keys (22):" in message and "readouts.A.sigma" in message
    assert "checkpoint-only mice ['A'], model-only mice ['B']" in message
    assert "part='core'" in message


def test_shape_mismatch_is_named_with_both_shapes(trained, build_model):
    _, path = trained
    other = build_model("tiny", {"A": 5})
    with pytest.raises(
        CheckpointError,
        match=r"readouts\.A\.sigma: checkpoint \(1, 9, 2, 2\) vs "
        r"model \(1, 5, 2, 2\)",
    ):
        load_checkpoint(other, path)


def test_core_mismatch_is_named(trained, build_model):
    _, path = trained
    deeper = build_model("tiny", {"A": 9}, temporal_depth=2)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(deeper, path, part="core")
    assert "missing keys (8): core.vivit.temporal_transformer.blocks.1.scale" in str(error.value)


@pytest.mark.parametrize("edit", ["missing", "extra"])
def test_missing_or_extra_key_is_named(build_model, tmp_path, edit):
    model = build_model("tiny", {"A": 9})
    state = model.state_dict()
    if edit == "missing":
        del state["core.vivit.tokenizer.tokenizer.2.bias"]
        expected = "missing keys (1): core.vivit.tokenizer.tokenizer.2.bias"
    else:
        state["core.vivit.extra_token"] = torch.zeros(3)
        expected = "unexpected keys (1): core.vivit.extra_token"
    torch.save({"epoch": 1, "value": 0.1, "model": state}, tmp_path / "edited.pt")
    for part in ("all", "core"):
        with pytest.raises(CheckpointError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            load_checkpoint(model, tmp_path / "edited.pt", part=part)


def test_truncated_file_fails_naming_the_file(trained, build_model, tmp_path):
    _, path = trained
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=rf"{truncated}.*corrupted or truncated"):
        load_checkpoint(build_model("tiny", {"A": 9}), truncated)


def test_garbage_file_fails_naming_the_file(build_model, tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint" * 50)
    with pytest.raises(CheckpointError, match=rf"{garbage}.*corrupted or truncated"):
        load_checkpoint(build_model("tiny", {"A": 9}), garbage)


def test_missing_file(build_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pt does not exist"):
        load_checkpoint(build_model("tiny", {"A": 9}), tmp_path / "nowhere.pt")


def test_pickled_callable_is_refused_without_trust(build_model, tmp_path):
    model = build_model("tiny", {"A": 9})
    marker = tmp_path / "executed"
    path = tmp_path / "malicious.pt"
    torch.save(
        {
            "epoch": 1,
            "value": 0.1,
            "model": model.state_dict(),
            "scheduler": {"hook": RunsACommand(marker)},
        },
        path,
    )
    with pytest.raises(CheckpointError, match=r"system.*could execute code.*trust=True"):
        load_checkpoint(model, path)
    assert not marker.exists()


def test_custom_objects_need_trust(build_model, tmp_path):
    model = build_model("tiny", {"A": 9})
    path = tmp_path / "custom.pt"
    torch.save(
        {"epoch": 3, "value": 0.1, "model": model.state_dict(), "scheduler": {"extra": Harmless()}},
        path,
    )
    with pytest.raises(CheckpointError, match=r"Harmless.*trust=True"):
        read_checkpoint(path)
    assert load_checkpoint(model, path, trust=True).epoch == 3


def test_non_checkpoint_dict_is_explained(tmp_path, build_model):
    path = tmp_path / "other.pt"
    torch.save({"weights": [1, 2, 3]}, path)
    with pytest.raises(CheckpointError, match=r"found top-level keys weights"):
        load_checkpoint(build_model("tiny", {"A": 9}), path)


def test_failed_save_leaves_nothing_behind(build_model, tmp_path):
    model = build_model("tiny", {"A": 9})
    target = tmp_path / "model_state.pt"
    target.write_bytes(b"previous")
    with pytest.raises((pickle.PicklingError, AttributeError)):  # lambdas cannot be pickled
        save_checkpoint(model, target, epoch=1, value=0.1, scheduler={"fn": lambda: None})
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model_state.pt"]
