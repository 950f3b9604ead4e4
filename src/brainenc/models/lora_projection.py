"""Apply a LoRA-wrapped Linear as one matrix product with the merged weight.

peft computes a LoRA layer as ``base(x) + B(A(dropout(x))) * scaling``: besides the base product
it writes, scales and adds a second output as wide as the base one (1720 columns per token for
``fused_linear``), and its backward reads that width twice more. Mathematically the same layer
is ``x @ (W + scaling * B @ A)^T``: merging the rank-r update into the weight on every call
(``2 r D F`` FLOPs, nothing next to the product) makes a LoRA layer cost exactly what the plain
layer costs, and its weight gradient flows to A and B through the small merge. Results equal
peft's up to floating-point rounding (a different summation order).

Only peft's vanilla LoRA on a Linear qualifies: not merged, adapters enabled, no dropout on the
adapter input, no DoRA or other variant, no fan-in/fan-out transpose. Anything else runs through
the layer itself, unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def merged_lora_weight(layer: nn.Module) -> torch.Tensor | None:
    """``W + sum_a scaling_a * B_a @ A_a`` over the active adapters of a peft LoRA Linear.

    None when ``layer`` is not a peft LoRA Linear that the merged product reproduces.
    """
    base = getattr(layer, "base_layer", None)
    lora_a, lora_b = getattr(layer, "lora_A", None), getattr(layer, "lora_B", None)
    if not isinstance(base, nn.Linear) or lora_a is None or lora_b is None:
        return None
    if layer.merged or layer.disable_adapters or getattr(layer, "fan_in_fan_out", False):
        return None
    weight = base.weight
    for adapter in layer.active_adapters:
        if adapter not in lora_a:
            continue
        if adapter in getattr(layer, "lora_variant", {}) or not isinstance(
            layer.lora_dropout[adapter], nn.Identity
        ):
            return None
        a, b = lora_a[adapter], lora_b[adapter]
        if a.bias is not None or b.bias is not None:
            return None
        weight = weight + (b.weight @ a.weight) * layer.scaling[adapter]
    return weight


def project(layer: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """``layer(inputs)``, as one product with the merged weight when ``layer`` is a LoRA Linear."""
    weight = None if isinstance(layer, nn.Linear) else merged_lora_weight(layer)
    if weight is None:
        return layer(inputs)
    return F.linear(inputs, weight, layer.base_layer.bias)


def project_split(
    layer: nn.Module, inputs: torch.Tensor, sizes: tuple[int, ...]
) -> tuple[torch.Tensor, ...]:
    """``layer(inputs).split(sizes, -1)`` as one product per block of output features.

    Each part is contiguous and its gradient flows into the (merged) weight's row block, so the
    backward pass never concatenates the parts' gradients into one full-width copy. A layer with
    a bias, or a LoRA layer that does not merge, runs whole and is split.
    """
    weight = layer.weight if isinstance(layer, nn.Linear) else merged_lora_weight(layer)
    if weight is None or getattr(layer, "base_layer", layer).bias is not None:
        return layer(inputs).split(sizes, dim=-1)
    return tuple(F.linear(inputs, part) for part in weight.split(sizes))
