"""The merged-weight LoRA product equals peft's two-branch forward and backward."""

from __future__ import annotations

import pytest
import torch

from brainenc.models.lora_projection import merged_lora_weight, project

peft = pytest.importorskip("peft")


def lora_model(build_model, dropout: float = 0.0, seed: int = 0, targets=("fused_linear",)):
    model = build_model("tiny", {"A": 9}, seed=seed)
    config = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, target_modules=list(targets))
    wrapped = peft.get_peft_model(model, config)
    generator = torch.Generator().manual_seed(seed)
    for name, parameter in wrapped.named_parameters():  # B starts at 0: give it a value
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.1, generator=generator)
    return wrapped


def fused_layers(model):
    return [m.fused_linear for m in model.modules() if hasattr(m, "fused_linear")]


def test_merged_product_matches_peft_forward_and_gradients(build_model):
    layer = fused_layers(lora_model(build_model))[0]
    inputs = torch.randn(3, 20, 16, requires_grad=True)
    results = {}
    for name, run in (("peft", layer), ("merged", lambda x: project(layer, x))):
        outputs = run(inputs)
        weights = torch.randn(outputs.shape, generator=torch.Generator().manual_seed(0))
        params = [inputs, layer.lora_A["default"].weight, layer.lora_B["default"].weight]
        results[name] = (outputs, *torch.autograd.grad((outputs * weights).sum(), params))
    for expected, found in zip(results["peft"], results["merged"], strict=True):
        torch.testing.assert_close(found, expected, rtol=1e-4, atol=1e-5)
    assert layer.base_layer.weight.grad is None  # the frozen base weight gets no gradient


@pytest.mark.parametrize(
    "targets", [("fused_linear",), ("fused_linear", "attn_out", "ff_out.2")], ids=["fused", "all"]
)
def test_lora_model_training_step_matches_peft_path(build_model, make_inputs, monkeypatch, targets):
    video, behavior, pupil = make_inputs(2, 30)
    grads = {}
    for path in ("merged", "peft"):
        model = lora_model(build_model, targets=targets).train()
        if path == "peft":  # route every block through peft's own forward
            monkeypatch.setattr("brainenc.models.blocks.project", lambda layer, x: layer(x))
        torch.manual_seed(3)
        loss = model(video, mouse_id="A", behavior=behavior, pupil_center=pupil).mean()
        loss.backward()
        grads[path] = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    lora_grads = [name for name in grads["peft"] if ".lora_A." in name]
    assert len(lora_grads) == 2 * len(targets)  # one spatial and one temporal block
    assert grads["merged"].keys() == grads["peft"].keys()
    for name, expected in grads["peft"].items():
        torch.testing.assert_close(grads["merged"][name], expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("case", ["dropout", "disabled", "merged", "plain"])
def test_layers_the_merge_cannot_reproduce_run_unchanged(build_model, case):
    model = lora_model(build_model, dropout=0.1 if case == "dropout" else 0.0)
    layer = fused_layers(model)[0]
    if case == "disabled":
        layer.enable_adapters(False)
    elif case == "merged":
        layer.merge()
    elif case == "plain":
        layer = layer.base_layer
    assert merged_lora_weight(layer) is None
    inputs = torch.randn(2, 5, 16)
    torch.manual_seed(1)
    expected = layer(inputs)
    torch.manual_seed(1)
    torch.testing.assert_close(project(layer, inputs), expected, rtol=0, atol=0)
