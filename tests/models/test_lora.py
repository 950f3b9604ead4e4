"""The block projections are the LoRA targets the training code relies on (peft)."""

from __future__ import annotations

import pytest
import torch

peft = pytest.importorskip("peft")

TARGETS = ["fused_linear", "attn_out", "ff_out.2"]


def test_lora_wraps_exactly_the_block_projections(build_model, make_inputs):
    model = build_model("tiny", {"A": 9}).eval()
    video, behavior, pupil = make_inputs(1, 30)
    with torch.no_grad():
        before = model(video, "A", behavior, pupil)
    wrapped = peft.get_peft_model(model, peft.LoraConfig(r=2, lora_alpha=4, target_modules=TARGETS))
    expected = [
        f"core.vivit.{stage}_transformer.blocks.0.{name}"
        for stage in ("spatial", "temporal")
        for name in TARGETS
    ]
    assert sorted(wrapped.targeted_module_names) == sorted(expected)
    trainable = {name for name, p in wrapped.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in name for name in trainable)
    with torch.no_grad():  # LoRA B starts at zero: the wrapped model predicts as before
        after = wrapped(video, mouse_id="A", behavior=behavior, pupil_center=pupil)
    torch.testing.assert_close(after, before)
