"""Fine-tuning strategies: what trains, the seed's trainable table, LoRA freeze, merge, export."""

from __future__ import annotations

import copy
from functools import partial

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader
from training_helpers import build_model, random_batch

from brainenc.models import load_checkpoint
from brainenc.models.parameter_kinds import parameter_kind
from brainenc.runs.artifacts import (
    export_plain_state_dict,
    load_adapter,
    plain_model,
    save_adapter,
)
from brainenc.training.losses import MSELoss
from brainenc.training.module import EncodingModule
from brainenc.training.parameters import count_parameters
from brainenc.training.strategies import FromScratch, FullFineTuning, HeadOnly, LoraStrategy

SEED_TABLE = [  # the seed's FINAL COMPARISON: rank, layers, trainable %
    (8, "all", 5.56),
    (8, "fused", 3.8),
    (16, "all", 10.53),
    (16, "fused", 7.35),
    (32, "all", 19.1),
    (32, "fused", 13.7),
]


@pytest.fixture(scope="module")
def viv1t_227():
    """The authors' full-size ViV1T with one 227-neuron mouse (construction only)."""
    return build_model("viv1t", {"A": 227})


@pytest.mark.parametrize(
    ("rank", "layers", "percent"), SEED_TABLE, ids=[f"r{r}-{t}" for r, t, _ in SEED_TABLE]
)
def test_lora_trainable_percent_reproduces_the_seed_table(viv1t_227, rank, layers, percent):
    wrapped = LoraStrategy(r=rank, lora_alpha=2 * rank, target_modules=layers).apply(
        copy.deepcopy(viv1t_227)
    )
    counts = count_parameters(wrapped)
    assert counts.core == 2_916_074 and counts.head == 13_592 + 117 * 227 + 57
    blocks = 8
    per_block = 1832 if layers == "fused" else 1832 + 640 + 248  # (in + out) of each target
    assert counts.lora == rank * per_block * blocks == counts.trainable
    assert counts.trainable_percent == pytest.approx(percent, abs=0.1)
    assert len(wrapped.targeted_module_names) == blocks * (1 if layers == "fused" else 3)


@pytest.mark.parametrize(
    ("strategy", "kinds"),
    [
        (FromScratch(), {"core", "head"}),
        (FullFineTuning(), {"core", "head"}),
        (HeadOnly(), {"head"}),
        (LoraStrategy(r=2, lora_alpha=4, target_modules="all"), {"lora"}),
        (LoraStrategy(r=2, lora_alpha=4, train_head=True), {"lora", "head"}),
    ],
    ids=["none", "full", "head_only", "lora", "lora+head"],
)
def test_each_strategy_trains_exactly_its_parameters(strategy, kinds):
    model = strategy.apply(build_model("test", {"A": 6}))
    trainable = {parameter_kind(n) for n, p in model.named_parameters() if p.requires_grad}
    frozen = {parameter_kind(n) for n, p in model.named_parameters() if not p.requires_grad}
    assert trainable == kinds
    assert not (frozen & kinds)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"r": 0}, "peft.r must be an integer >= 1"),
        ({"r": 4.5}, "peft.r must be an integer >= 1"),
        ({"lora_alpha": -1}, "peft.lora_alpha must be > 0"),
        (
            {"target_modules": ["fused_linear", "qkv"]},
            r"unknown LoRA target\(s\) \['qkv'\].*attn_out",
        ),
        ({"target_modules": "everything"}, "not a known alias.*fused, all"),
        ({"lora_dropout": 1.0}, r"lora_dropout must be in \[0, 1\)"),
        ({"layers_to_transform": []}, "layers_to_transform must be null or a non-empty list"),
    ],
)
def test_lora_settings_are_checked_before_any_work(settings, message):
    with pytest.raises(ValueError, match=message):
        LoraStrategy(**settings)


def _fit_steps(model, strategy, steps: int = 3) -> EncodingModule:
    module = EncodingModule(
        model=model,
        loss=MSELoss(),
        neurons={"A": 6},
        optimizer=partial(torch.optim.AdamW, lr=1e-2),
    )
    batches = [random_batch("A", 6, batch=2, frames=30, seed=s) for s in range(steps)]
    trainer = pl.Trainer(
        max_steps=steps,
        accelerator="cpu",
        callbacks=[strategy],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(module, DataLoader(batches, batch_size=None))
    return module


@pytest.mark.parametrize("train_head", [False, True], ids=["heads-frozen", "heads-trained"])
def test_lora_training_changes_only_adapters_and_optionally_heads(core_checkpoint, train_head):
    model = build_model("test", {"A": 6})
    load_checkpoint(model, core_checkpoint, part="core")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    strategy = LoraStrategy(r=2, lora_alpha=4, target_modules="all", train_head=train_head)
    module = _fit_steps(model, strategy)
    after = {
        k.removeprefix("base_model.model.").replace(".base_layer.", "."): v
        for k, v in module.model.state_dict().items()
    }
    lora_b = [v for k, v in after.items() if "lora_B" in k]
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b), "LoRA B starts at 0 and must move"
    core = [k for k in before if parameter_kind(k) == "core"]
    assert core and all(torch.equal(after[k], before[k]) for k in core), "the core changed"
    heads = [k for k in before if parameter_kind(k) == "head" and "source_grid" not in k]
    assert any(not torch.equal(after[k], before[k]) for k in heads) == train_head


def test_merged_model_predicts_like_the_adapted_one(tmp_path, core_checkpoint):
    model = build_model("test", {"A": 6})
    load_checkpoint(model, core_checkpoint, part="core")
    module = _fit_steps(model, LoraStrategy(r=2, lora_alpha=4, target_modules="all"))
    wrapped = module.model.eval()
    batch = random_batch("A", 6, batch=1, frames=30, seed=9)
    inputs = (batch["video"],)
    kwargs = {"mouse_id": "A", "behavior": batch["behavior"], "pupil_center": batch["pupil_center"]}
    with torch.no_grad():
        adapted = wrapped(*inputs, **kwargs)
        merged = plain_model(wrapped).eval()(*inputs, **kwargs)
    torch.testing.assert_close(merged, adapted, rtol=1e-5, atol=1e-6)
    assert not any("lora" in k for k in merged_keys(plain_model(wrapped)))

    export = export_plain_state_dict(wrapped, tmp_path / "export" / "model.pt")
    bare = build_model("test", {"A": 6}, seed=99).eval()
    load_checkpoint(bare, export, part="all")  # a plain state dict, strict keys
    with torch.no_grad():
        torch.testing.assert_close(bare(*inputs, **kwargs), adapted, rtol=1e-5, atol=1e-6)

    adapter_dir = save_adapter(wrapped, tmp_path / "adapter", core_checkpoint)
    assert {p.name for p in adapter_dir.iterdir()} >= {
        "adapter_config.json",
        "adapter_model.safetensors",
        "heads.pt",
        "brainenc_adapter.json",
    }
    fresh = build_model("test", {"A": 6}, seed=7)
    load_checkpoint(fresh, core_checkpoint, part="core")
    reloaded = load_adapter(fresh, adapter_dir).eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(*inputs, **kwargs), adapted)


def merged_keys(model) -> list[str]:
    return list(model.state_dict())


class _StopAt(pl.Callback):
    """Raise what Lightning raises after a SIGTERM, at the start of training batch ``index``."""

    def __init__(self, index: int) -> None:
        self.index = index

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.index:
            from lightning.pytorch.utilities.exceptions import SIGTERMException

            raise SIGTERMException


def test_sigterm_leaves_a_resumable_checkpoint(tmp_path):
    from brainenc.training.callbacks import InterruptCheckpoint

    def fit(callbacks, max_steps, ckpt_path=None):
        module = EncodingModule(
            model=build_model("test", {"A": 6}),
            loss=MSELoss(),
            neurons={"A": 6},
            optimizer=partial(torch.optim.AdamW, lr=1e-2),
        )
        trainer = pl.Trainer(
            max_steps=max_steps,
            accelerator="cpu",
            callbacks=[FromScratch(), *callbacks],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
        )
        batches = [random_batch("A", 6, batch=2, frames=30, seed=s) for s in range(6)]
        trainer.fit(module, DataLoader(batches, batch_size=None), ckpt_path=ckpt_path)
        return trainer

    with pytest.raises(SystemExit):
        fit([InterruptCheckpoint(tmp_path), _StopAt(2)], max_steps=6)
    saved = tmp_path / "interrupted.ckpt"
    assert torch.load(saved, weights_only=True)["global_step"] == 2
    resumed = fit([], max_steps=4, ckpt_path=saved)
    assert resumed.global_step == 4
