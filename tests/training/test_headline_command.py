"""``python train.py peft=lora8_fused optim=cosine`` on a fresh clone: the default in-silico core."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import instantiate
from training_helpers import mouse_spec

from brainenc.models import load_checkpoint
from brainenc.training.config_checks import check_config
from brainenc.training.pretraining import ensure_pretrained_core, needs_stage

REPO = Path(__file__).resolve().parents[2]


def _never_train(cfg):
    raise AssertionError("the shipped core should be reused, not pretrained again")


def test_the_headline_command_uses_the_shipped_core(make_config, monkeypatch):
    monkeypatch.chdir(REPO)  # paths.root_dir is the checkout
    cfg = make_config(["peft=lora8_fused", "optim=cosine", f"paths.root_dir={REPO}"])
    strategy = check_config(cfg)
    assert needs_stage(cfg, strategy.requires_pretrained)
    core = ensure_pretrained_core(cfg, _never_train)
    assert core.parent == REPO / "pretrained" and core.is_file()
    model = instantiate(cfg.model)(mice={"A": mouse_spec(5)})
    info = load_checkpoint(model, core, part="core")
    assert info.loaded_keys > 0


@pytest.mark.parametrize(
    "overrides",
    [
        ["peft=none"],
        ["peft=lora8_fused", "pretrained.path=core.pt"],
        ["peft=lora8_fused", "~pretrain"],
    ],
    ids=["from-scratch", "core-named", "no-stage"],
)
def test_the_stage_runs_only_for_a_core_nobody_named(make_config, overrides):
    cfg = make_config(overrides)
    requires = overrides[0] != "peft=none"
    assert not needs_stage(cfg, requires)


def test_another_model_gets_its_own_core_file(make_config):
    from brainenc.training.pretraining import checkpoint_path, fingerprint, stage_config

    default, tiny = (make_config(["peft=lora8_fused", *extra]) for extra in ([], ["model=tiny"]))
    paths = {checkpoint_path(c, fingerprint(stage_config(c))) for c in (default, tiny)}
    assert len(paths) == 2


def test_a_damaged_sidecar_is_reported_not_raised_raw(make_config, tmp_path):
    core = tmp_path / "core.pt"
    core.write_bytes(b"weights")
    core.with_name("core.pt.json").write_text("{not json")
    cfg = make_config(["peft=lora8_fused", f"pretrain.checkpoint={core}"])
    with pytest.raises(ValueError, match="core.pt.json is missing or unreadable"):
        ensure_pretrained_core(cfg, _never_train)
