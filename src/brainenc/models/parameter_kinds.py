"""Which entries of a ViV1T (plain or peft-wrapped) are LoRA adapters, per-mouse heads or core.

A parameter or state-dict name is classified after removing peft's ``base_model.model.`` prefix:
``lora_`` anywhere in the name → ``"lora"``; a name starting with ``core.`` → ``"core"``;
anything else (``shifters.<mouse_id>.…``, ``readouts.<mouse_id>.…``) → ``"head"``.
"""

from __future__ import annotations

KINDS = ("lora", "head", "core")
LORA_TARGETS = ("fused_linear", "attn_out", "ff_out.2")
"""The :class:`torch.nn.Linear` layers of each transformer block that LoRA can adapt (names
within :class:`~brainenc.models.blocks.ParallelTransformerBlock`)."""
_PEFT_PREFIX = "base_model.model."


def parameter_kind(name: str) -> str:
    """Return ``"lora"``, ``"core"`` or ``"head"`` for a parameter name (see module docstring)."""
    if name.startswith(_PEFT_PREFIX):
        name = name[len(_PEFT_PREFIX) :]
    if "lora_" in name:
        return "lora"
    if name.startswith("core."):
        return "core"
    return "head"
