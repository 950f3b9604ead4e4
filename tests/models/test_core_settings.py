"""A core checkpoint that does not fit names the ``model.core`` settings it was built with."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from brainenc.models import CheckpointError, load_checkpoint, save_checkpoint
from brainenc.models.core_settings import differing_core_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from training_helpers import build_model  # noqa: E402


def test_a_stride_mismatch_names_the_setting_and_the_value(tmp_path):
    saved = build_model("test", {"A": 4})  # tiny, spatial stride 4
    path = save_checkpoint(saved, tmp_path / "core.pt", epoch=0, value=0.0)
    other = build_model("tiny", {"B": 3})  # tiny, spatial stride 2
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(other, path, part="core")
    assert "model.core.spatial_patch_stride=4 (this model: 2)" in str(error.value)


def test_width_and_depth_are_read_from_the_shapes():
    small, tiny = build_model("small", {"A": 3}), build_model("tiny", {"A": 3})
    named = differing_core_settings(tiny, small.state_dict())
    assert "model.core.emb_dim=32 (this model: 16)" in named
    assert "model.core.mlp_dim=48 (this model: 24)" in named
    assert all("depth" not in entry for entry in named)  # both have one block each
    deep = build_model("viv1t", {"A": 3})
    assert "model.core.spatial_depth=1 (this model: 3)" in differing_core_settings(
        deep, small.state_dict()
    )
    assert differing_core_settings(small, small.state_dict()) == []
