"""Fast-mask dropout: drop rate, scaling, gradients, reproducibility, torch fallback."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from brainenc.models.dropout import Dropout, drop_mask, dropout


@pytest.mark.parametrize("p", [0.0592, 0.358, 0.9])
def test_drop_rate_matches_p(p: float) -> None:
    torch.manual_seed(0)
    n = 2_000_000
    dropped = drop_mask(torch.Size([n]), p, torch.device("cpu"))
    # binomial sd of the rate is sqrt(p (1 - p) / n) < 3.6e-4; quantisation adds < 1.6e-5
    assert abs(dropped.float().mean().item() - p) < 2e-3
    # the four 16-bit draws of a 64-bit word are independent: every lane drops at rate p
    lanes = dropped.view(-1, 4).float().mean(dim=0)
    assert torch.allclose(lanes, torch.full((4,), p), atol=4e-3)


def test_kept_values_are_scaled_and_gradient_uses_the_same_mask() -> None:
    torch.manual_seed(1)
    x = torch.randn(64, 33, 7, requires_grad=True)  # numel not a multiple of 4
    out = dropout(x, 0.358, training=True)
    kept = out != 0
    assert torch.allclose(out[kept], x[kept] / (1 - 0.358))
    assert 0.55 < kept.float().mean().item() < 0.73
    grad = torch.randn_like(out)
    out.backward(grad)
    assert torch.equal(x.grad != 0, kept)
    assert torch.allclose(x.grad, torch.where(kept, grad / (1 - 0.358), torch.zeros(())))


def test_same_seed_same_mask_and_identity_when_off() -> None:
    x = torch.randn(1000)
    torch.manual_seed(7)
    first = dropout(x, 0.3, training=True)
    torch.manual_seed(7)
    assert torch.equal(first, dropout(x, 0.3, training=True))
    assert dropout(x, 0.3, training=False) is x
    assert dropout(x, 0.0, training=True) is x


def test_module_without_fast_masks_is_torch_dropout_bit_for_bit() -> None:
    x = torch.randn(5000)
    module = Dropout(0.25, fast_masks=False).train()
    torch.manual_seed(3)
    ours = module(x)
    torch.manual_seed(3)
    assert torch.equal(ours, F.dropout(x, 0.25, training=True))
    assert module.eval()(x) is x
    assert Dropout(0.25).state_dict() == {}
