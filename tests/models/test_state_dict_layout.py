"""State-dict layout and parameter counts of the authors' configuration (spec viv1t.md §8)."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from brainenc.models import MouseSpec

N = 227
BLOCK = {
    "scale": (),
    "norm.weight": (112,),
    "norm.bias": (112,),
    "fused_linear.weight": (1720, 112),
    "attn_out.weight": (112, 528),
    "ff_out.2.weight": (112, 136),
    "drop_path1.keep_prob": (),
    "drop_path2.keep_prob": (),
}
EXPECTED = {
    "core.vivit.reg_scale": (),
    "core.vivit.tokenizer.spatial_pos_embedding": (1, 1, 435, 112),
    "core.vivit.tokenizer.temporal_pos_embedding": (1, 276, 1, 112),
    "core.vivit.tokenizer.tokenizer.1.weight": (6125,),
    "core.vivit.tokenizer.tokenizer.1.bias": (6125,),
    "core.vivit.tokenizer.tokenizer.2.weight": (112, 6125),
    "core.vivit.tokenizer.tokenizer.2.bias": (112,),
    "core.vivit.tokenizer.tokenizer.3.weight": (112,),
    "core.vivit.tokenizer.tokenizer.3.bias": (112,),
    **{
        f"core.vivit.{stage}_transformer.blocks.{i}.{key}": shape
        for stage, depth in (("spatial", 3), ("temporal", 5))
        for i in range(depth)
        for key, shape in BLOCK.items()
    },
    "shifters.A.reg_scale": (),
    "shifters.A.mlp.0.weight": (5, 2),
    "shifters.A.mlp.0.bias": (5,),
    "shifters.A.mlp.2.weight": (5, 5),
    "shifters.A.mlp.2.bias": (5,),
    "shifters.A.mlp.4.weight": (2, 5),
    "shifters.A.mlp.4.bias": (2,),
    "readouts.A.reg_scale": (),
    "readouts.A.sigma": (1, N, 2, 2),
    "readouts.A.features": (1, 112, N),
    "readouts.A.bias": (N,),
    "readouts.A.source_grid": (N, 2),
    "readouts.A.mu_transform.0.weight": (30, 2),
    "readouts.A.mu_transform.0.bias": (30,),
    "readouts.A.mu_transform.2.weight": (2, 30),
    "readouts.A.mu_transform.2.bias": (2,),
    "readouts.A.state_encoder.0.weight": (112, 4),
    "readouts.A.state_encoder.0.bias": (112,),
    "readouts.A.state_encoder.1.weight": (112,),
    "readouts.A.state_encoder.1.bias": (112,),
    "readouts.A.state_encoder.4.weight": (112, 112),
    "readouts.A.state_encoder.4.bias": (112,),
}


@pytest.fixture(scope="module")
def viv1t(model_configs):
    torch.manual_seed(0)
    mice = {"A": MouseSpec(torch.rand(N, 2) * 500, torch.rand(N))}
    return instantiate(model_configs["viv1t"])(mice=mice)


def test_state_dict_keys_and_shapes_match_the_authors(viv1t):
    found = {key: tuple(value.shape) for key, value in viv1t.state_dict().items()}
    assert len(EXPECTED) == 73 + 22
    assert found == EXPECTED


def test_buffers_hold_the_authors_values(viv1t):
    state = viv1t.state_dict()
    assert state["core.vivit.spatial_transformer.blocks.0.scale"].item() == pytest.approx(48**-0.5)
    assert state["core.vivit.temporal_transformer.blocks.4.drop_path2.keep_prob"].item() == (
        pytest.approx(0.9495)
    )
    for key in ("core.vivit.reg_scale", "shifters.A.reg_scale", "readouts.A.reg_scale"):
        assert state[key].item() == 0.0


def test_parameter_counts_match_the_authors(viv1t):
    counts = viv1t.parameter_counts()
    assert counts.core == 2_916_074
    assert counts.readouts == {"A": 13_592 + 117 * N}
    assert counts.shifters == {"A": 57}
    assert counts.head("A") == 13_592 + 117 * N + 57
    assert counts.total == sum(p.numel() for p in viv1t.parameters())


def test_head_count_of_mouse_a_of_sensorium(build_model):
    model = build_model("viv1t", {"A": 7440, "B": 3})
    counts = model.parameter_counts()
    assert counts.readouts["A"] == 884_072
    assert counts.head("B") == 13_592 + 117 * 3 + 57


def test_trainable_only_counts_skip_frozen_parameters(viv1t):
    viv1t.core.requires_grad_(False)
    try:
        counts = viv1t.parameter_counts(trainable_only=True)
    finally:
        viv1t.core.requires_grad_(True)
    assert counts.core == 0
    assert counts.head("A") == 13_592 + 117 * N + 57


def test_lora_targets_are_plain_linear_layers(viv1t):
    names = {"fused_linear": (112, 1720), "attn_out": (528, 112), "ff_out.2": (136, 112)}
    for suffix, (fan_in, fan_out) in names.items():
        modules = [m for name, m in viv1t.named_modules() if name.endswith("." + suffix)]
        assert len(modules) == 8
        for module in modules:
            assert type(module) is nn.Linear and module.bias is None
            assert (module.in_features, module.out_features) == (fan_in, fan_out)


def test_block_linear_initialisation_is_truncated_normal_002(viv1t):
    weight = viv1t.core.vivit.temporal_transformer.blocks[0].fused_linear.weight
    assert weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert math.isclose(weight.mean().item(), 0.0, abs_tol=1e-3)
