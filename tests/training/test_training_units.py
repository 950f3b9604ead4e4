"""Losses, schedules, parameter groups, precision and parameter counts (no data needed)."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import torch
from torch import nn

from brainenc.models.parameter_kinds import parameter_kind
from brainenc.training.losses import MSELoss, PoissonCorrelationLoss, build_loss, neuron_correlation
from brainenc.training.optimization import configure_optimization, parameter_groups
from brainenc.training.parameters import count_parameters
from brainenc.training.precision import resolve_precision
from brainenc.training.schedules import constant, cosine, linear


def test_mse_is_mean_squared_error_in_float32():
    predictions = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]], dtype=torch.bfloat16)
    targets = torch.zeros(1, 2, 2, dtype=torch.bfloat16)
    loss = MSELoss()(predictions, targets)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx((1 + 4 + 9 + 16) / 4)


def test_poisson_correlation_matches_the_authors_formula():
    generator = torch.Generator().manual_seed(0)
    predictions = torch.rand(3, 4, 10, generator=generator) + 0.1
    targets = torch.rand(3, 4, 10, generator=generator)
    eps = np.finfo(np.float32).eps
    p, y = predictions.double().numpy(), targets.double().numpy()
    poisson = np.sum((p + eps) - (y + eps) * np.log(p + eps))
    pooled_p = p.transpose(1, 0, 2).reshape(4, -1)
    pooled_y = y.transpose(1, 0, 2).reshape(4, -1)
    r = [
        np.mean((a - a.mean()) * (b - b.mean())) / ((a.std() + eps) * (b.std() + eps))
        for a, b in zip(pooled_p, pooled_y, strict=True)
    ]
    expected = (poisson + 1000 * np.sum(1 - np.array(r))) * math.sqrt(21 / 3)
    loss = PoissonCorrelationLoss(1000.0, {"A": 21})(predictions, targets, mouse_id="A")
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(neuron_correlation(predictions, targets).numpy(), r, rtol=1e-5)


def test_correlation_loss_is_one_minus_the_mean_single_trial_correlation():
    generator = torch.Generator().manual_seed(1)
    predictions = torch.randn(3, 4, 30, generator=generator, dtype=torch.float64)
    targets = predictions + torch.randn(3, 4, 30, generator=generator, dtype=torch.float64)
    r = [
        np.corrcoef(p, y)[0, 1]
        for p, y in zip(
            predictions.reshape(12, 30).numpy(), targets.reshape(12, 30).numpy(), strict=True
        )
    ]
    loss = build_loss("correlation")(predictions, targets)
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(1 - np.mean(r), abs=1e-5)
    # Blind to each trace's offset and (positive) scale.
    offsets = torch.randn(3, 4, 1, generator=generator, dtype=torch.float64)
    scales = torch.rand(3, 4, 1, generator=generator, dtype=torch.float64) + 0.5
    shifted = build_loss("correlation")(predictions * scales + offsets, targets)
    assert shifted.item() == pytest.approx(loss.item(), abs=1e-5)
    # A constant prediction scores 0 (loss 1) with a finite gradient.
    flat = torch.zeros(1, 2, 30, requires_grad=True)
    constant_loss = build_loss("correlation")(flat, targets[:1, :2].float())
    constant_loss.backward()
    assert constant_loss.item() == pytest.approx(1.0) and torch.isfinite(flat.grad).all()


def test_loss_errors_name_the_setting():
    with pytest.raises(
        ValueError, match="loss.name='huber'.*mse, poisson_correlation, correlation"
    ):
        build_loss("huber")
    with pytest.raises(ValueError, match="dataset_scaling"):
        build_loss("poisson_correlation", dataset_scaling=True)
    with pytest.raises(ValueError, match="shape"):
        MSELoss()(torch.zeros(1, 2, 3), torch.zeros(1, 2, 4))


def _lrs(factory, steps: int = 10, **kwargs) -> list[float]:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=2.0)
    scheduler = factory(optimizer, total_steps=steps, **kwargs)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_schedules_follow_their_formulas():
    lrs = _lrs(cosine, warmup_steps=2, min_lr_ratio=0.1)
    assert lrs[:2] == pytest.approx([1.0, 2.0])
    progress = [(s - 2) / 8 for s in range(2, 10)]
    expected = [2.0 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p))) for p in progress]
    assert lrs[2:] == pytest.approx(expected)
    assert _lrs(linear) == pytest.approx([2.0 * (1 - s / 10) for s in range(10)])
    assert _lrs(constant, warmup_steps=4)[:5] == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.0])


def test_schedules_refuse_impossible_settings():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="warmup_steps=10 is not smaller than the 10"):
        cosine(optimizer, total_steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="finite number of optimizer steps"):
        linear(optimizer, total_steps=float("inf"))


def test_parameter_kinds_and_named_groups():
    assert (
        parameter_kind("base_model.model.core.vivit.x.fused_linear.lora_A.default.weight") == "lora"
    )
    assert parameter_kind("base_model.model.core.vivit.x.fused_linear.base_layer.weight") == "core"
    assert parameter_kind("readouts.A.features") == "head"
    model = nn.ModuleDict({"core": nn.Linear(2, 3), "readouts": nn.Linear(3, 1)})
    model["core"].weight.requires_grad_(False)
    groups = parameter_groups(model, {"core": {"lr": 0.5}})
    assert [g["name"] for g in groups] == ["head", "core"]
    assert groups[1]["lr"] == 0.5 and len(groups[1]["params"]) == 1  # frozen weight left out
    with pytest.raises(ValueError, match="param_groups.backbone.*lora, head, core"):
        parameter_groups(model, {"backbone": {"lr": 1.0}})
    with pytest.raises(ValueError, match=r"param_groups.core.lr must be > 0"):
        parameter_groups(model, {"core": {"lr": 0.0}})


def test_configure_optimization_binds_total_steps_for_step_schedules():
    model = nn.Linear(2, 2)
    result = configure_optimization(
        model, partial(torch.optim.AdamW, lr=1e-3), partial(cosine), "step", None, 7
    )
    assert result["lr_scheduler"]["interval"] == "step"
    assert result["lr_scheduler"]["scheduler"].lr_lambdas[0].total_steps == 7
    plateau = partial(torch.optim.lr_scheduler.ReduceLROnPlateau, mode="max")
    result = configure_optimization(
        model, partial(torch.optim.AdamW), plateau, "epoch", "val/corr", 7
    )
    assert result["lr_scheduler"]["monitor"] == "val/corr"


@pytest.mark.parametrize(
    ("precision", "accelerator", "expected"),
    [("auto", "cpu", "32"), ("16-mixed", "cpu", "16-mixed"), (32, "cpu", "32")],
)
def test_precision_resolution(precision, accelerator, expected):
    assert resolve_precision(precision, accelerator) == expected


@pytest.mark.parametrize(
    ("major", "expected"), [(6, "16-mixed"), (7, "16-mixed"), (8, "bf16-mixed"), (9, "bf16-mixed")]
)
def test_auto_precision_follows_cuda_capability(monkeypatch, major, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (major, 0))
    assert resolve_precision("auto", "gpu") == expected
    with pytest.raises(ValueError, match="trainer.precision='fp8'"):
        resolve_precision("fp8", "gpu")


def test_counts_include_lora_in_the_total():
    model = nn.ModuleDict({"core": nn.Linear(4, 4, bias=False), "readouts": nn.Linear(4, 1)})
    model["core"].weight.requires_grad_(False)
    counts = count_parameters(model)
    assert (counts.core, counts.head, counts.lora, counts.total, counts.trainable) == (
        16,
        5,
        0,
        21,
        5,
    )
    assert counts.trainable_percent == pytest.approx(100 * 5 / 21, abs=1e-4)
