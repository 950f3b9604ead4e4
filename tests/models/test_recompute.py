"""Activation recomputation modes give exactly the gradients of the plain path, LoRA included."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from brainenc.models import ViViTCore
from brainenc.models.recompute import ATTENTION_KERNELS, run_block

T = 30


def loss_and_grads(model, inputs, seed: int = 3) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)  # same dropout, drop-path and readout draws in every mode
    video, behavior, pupil = inputs
    model(video, "A", behavior, pupil).square().mean().backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("mode", ["selective", True])
def test_recompute_modes_match_the_plain_gradients_in_training_mode(build_model, make_inputs, mode):
    inputs = make_inputs(2, T)
    sizes = {"spatial_depth": 2, "temporal_depth": 2, "chunk_tokens": None}
    plain = build_model("tiny", {"A": 9}, **sizes).train()
    recomputed = build_model("tiny", {"A": 9}, grad_checkpointing=mode, **sizes).train()
    recomputed.load_state_dict(plain.state_dict())
    assert recomputed.core.grad_checkpointing == mode
    expected = loss_and_grads(plain, inputs)
    found = loss_and_grads(recomputed, inputs)
    assert found.keys() == expected.keys() and len(found) > 20
    for name in expected:
        torch.testing.assert_close(found[name], expected[name], rtol=1e-5, atol=1e-7, msg=name)


def test_selective_mode_with_lora_matches_the_plain_adapter_gradients(build_model, make_inputs):
    peft = pytest.importorskip("peft")
    inputs = make_inputs(1, T)
    grads = {}
    for mode in (False, "selective"):
        model = build_model("tiny", {"A": 9}, grad_checkpointing=mode, chunk_tokens=None).train()
        config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["fused_linear"])
        wrapped = peft.get_peft_model(model, config)
        for name, parameter in wrapped.named_parameters():  # B = 0 would hide errors in A
            if "lora_B" in name:
                torch.nn.init.normal_(
                    parameter, std=0.1, generator=torch.Generator().manual_seed(0)
                )
        grads[mode] = loss_and_grads(wrapped, inputs)
    assert grads[False].keys() == grads["selective"].keys()
    assert any("lora_A" in name for name in grads[False])
    for name, expected in grads[False].items():
        torch.testing.assert_close(grads["selective"][name], expected, rtol=1e-5, atol=1e-7)


NO_DROPOUT = {"p_dropout": 0.0, "mha_dropout": 0.0, "ff_dropout": 0.0, "drop_path": 0.0}


@pytest.mark.parametrize("mode", ["selective", True])
def test_chunked_recomputation_matches_the_whole_batch_gradients(build_model, make_inputs, mode):
    # 2 clips x 6 frames x 435 patches: chunks of 1 (spatial) and 83 (temporal) sequences, the
    # last ones shorter. Without dropout the chunked step computes exactly the same function.
    inputs = make_inputs(2, T)
    plain = build_model("tiny", {"A": 9}, chunk_tokens=None, **NO_DROPOUT).train()
    chunked = build_model(
        "tiny", {"A": 9}, grad_checkpointing=mode, chunk_tokens=500, **NO_DROPOUT
    ).train()
    chunked.load_state_dict(plain.state_dict())
    expected = loss_and_grads(plain, inputs)
    found = loss_and_grads(chunked, inputs)
    assert found.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(found[name], expected[name], rtol=1e-4, atol=1e-6, msg=name)


def test_chunked_recomputation_with_dropout_is_reproducible(build_model, make_inputs):
    inputs = make_inputs(1, T)
    model = build_model("tiny", {"A": 9}, grad_checkpointing="selective", chunk_tokens=500)
    first = loss_and_grads(model.train(), inputs)
    model.zero_grad()
    second = loss_and_grads(model, inputs)
    for name in first:
        assert torch.equal(first[name], second[name]), name


class SavedBytes:
    """Total bytes of distinct storages autograd saves through saved-tensor hooks while active."""

    def __init__(self) -> None:
        self.storages: dict[int, int] = {}

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        self.storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    @property
    def total(self) -> int:
        return sum(self.storages.values())


class AttentionCalls(TorchDispatchMode):
    """Count the fused attention kernels run (forward) while active."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += func.overloadpacket in ATTENTION_KERNELS
        return func(*args, **(kwargs or {}))


def step_profile(block, inputs: torch.Tensor, mode) -> tuple[int, int]:
    """(bytes saved through autograd hooks, attention kernel runs) of one forward + backward."""
    counter = SavedBytes()
    with AttentionCalls() as attention:
        with torch.autograd.graph.saved_tensors_hooks(counter.pack, lambda tensor: tensor):
            outputs = run_block(block, inputs, mode)
        outputs.square().sum().backward()
    return counter.total, attention.calls


def test_recompute_modes_keep_what_they_promise():
    core = ViViTCore(emb_dim=32, num_heads=4, head_dim=16, mlp_dim=40)
    block = core.vivit.spatial_transformer.blocks[0].train()
    inputs = torch.randn(6, 50, 32, requires_grad=True)
    fused_bytes = inputs.shape[0] * inputs.shape[1] * (3 * 64 + 40) * 4
    assert ATTENTION_KERNELS, "no fused attention kernel found in this torch build"
    plain, plain_calls = step_profile(block, inputs, False)
    selective, selective_calls = step_profile(block, inputs, "selective")
    full, full_calls = step_profile(block, inputs, True)
    assert plain > fused_bytes  # the q | k | v | ff projection and more
    # checkpointing keeps only the block input through autograd; the selective mode keeps the
    # attention outputs in its own cache, so its backward does not rerun the attention kernel
    assert selective == full == inputs.nbytes
    assert (plain_calls, selective_calls, full_calls) == (1, 1, 2)


def test_bad_grad_checkpointing_setting_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match="grad_checkpointing must be false, 'selective' or true"):
        ViViTCore(grad_checkpointing="sometimes")
