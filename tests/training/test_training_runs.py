"""Whole runs through ``train(cfg)`` on the small in-silico dataset (CPU, tiny model)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
import yaml
from training_helpers import CONF_DIR, compose_config

from brainenc.evaluation.baseline import trial_average_baseline
from brainenc.training import train

PEFT_OPTIONS = sorted(p.stem for p in (CONF_DIR / "peft").glob("*.yaml"))


@pytest.mark.parametrize("peft", PEFT_OPTIONS)
def test_fast_dev_run_for_each_peft_choice(make_config, run_overrides, core_checkpoint, peft):
    pretrained = [] if peft == "none" else [f"pretrained.path={core_checkpoint}"]
    cfg = make_config([*run_overrides, f"peft={peft}", "debug=fdr", *pretrained])
    metrics, objects = train(cfg)
    assert -1.0 <= metrics["test/corr"] <= 1.0 and "test/corr/A" in metrics
    assert metrics["checkpoint"] is None  # fast_dev_run saves no checkpoint
    counts = objects["module"].parameter_counts
    assert counts.trainable > 0
    if peft.startswith("lora"):  # adapters plus the new mouse's head (train_head defaults on)
        assert counts.trainable == counts.lora + counts.head
    run_dir = objects["run_dir"]
    assert json.loads((run_dir / "trainable.json").read_text())["trainable"] == counts.trainable


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, run_overrides, core_checkpoint):
    """A short LoRA run (2 epochs of 3 batches) with the CSV logger: (metrics, objects)."""
    run_dir = tmp_path_factory.mktemp("lora_run")
    cfg = compose_config(
        [
            *run_overrides,
            "peft=lora8_all",
            "peft.train_head=true",
            f"pretrained.path={core_checkpoint}",
            "logger=csv",
            "trainer.max_epochs=2",
            "+trainer.limit_train_batches=3",
            "evaluation.references=true",
        ],
        run_dir,
    )
    return train(cfg)


def test_run_directory_holds_the_contract_files(lora_run):
    metrics, objects = lora_run
    run_dir = objects["run_dir"]
    resolved = yaml.safe_load((run_dir / "config_resolved.yaml").read_text())
    assert resolved["peft"]["r"] == 8 and resolved["paths"]["output_dir"] == str(run_dir)
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert set(provenance) >= {
        "git_commit",
        "git_dirty",
        "package_versions",
        "data_manifests",
        "seed",
        "command",
    }
    assert provenance["seed"] == 1234 and len(provenance["data_manifests"]["A"]) == 64
    assert provenance["package_versions"]["peft"] is not None
    trainable = json.loads((run_dir / "trainable.json").read_text())
    assert set(trainable) == {"lora", "head", "core", "total", "trainable", "trainable_percent"}
    assert trainable["trainable"] == trainable["lora"] + trainable["head"]
    stored = json.loads((run_dir / "metrics.json").read_text())
    assert stored["checkpoint"] == "checkpoints/best.ckpt" and stored["epochs"] == 2
    assert stored["best_epoch"] in (0, 1) and stored["val/corr"] == pytest.approx(
        metrics["val/corr"]
    )
    assert {"test/corr", "test/corr/A", "baseline/test/corr", "definitions"} <= set(stored)
    references = stored["references"]
    assert references["split"] == "test" and set(references["mice"]) == {"A"}
    assert references["baseline"]["corr"] == pytest.approx(stored["baseline/test/corr"], abs=1e-5)
    ceiling = references["noise_ceiling"]["corr"]
    assert references["ridge"]["lambda_by_mouse"]["A"] > 0 and ceiling > 0
    assert references["ridge"]["fraction_of_ceiling"] == pytest.approx(
        references["ridge"]["corr"] / ceiling
    )
    assert (run_dir / "checkpoints" / "best.ckpt").is_file() and (
        run_dir / "checkpoints" / "last.ckpt"
    ).is_file()
    with (run_dir / "csv" / "metrics.csv").open() as file:
        columns = set(csv.DictReader(file).fieldnames)
    assert {"epoch", "step", "train/loss", "val/corr", "val/corr/A", "lr-AdamW"} <= columns
    adapter = run_dir / "adapter"
    assert {"adapter_config.json", "adapter_model.safetensors", "heads.pt"} <= {
        p.name for p in adapter.iterdir()
    }
    assert (run_dir / "figures" / "curves.png").stat().st_size > 1000


def test_baseline_is_scored_like_the_evaluation_package(lora_run):
    metrics, objects = lora_run
    folder = objects["datamodule"].datasets["test"]["A"].mouse.folder
    expected = trial_average_baseline(folder, split="test", skip=24)
    assert metrics["baseline/test/corr"] == pytest.approx(expected.value, abs=1e-5)
    assert metrics["baseline/test/corr_pooled"] == pytest.approx(
        expected.scores.corr_pooled, abs=1e-5
    )


def test_exported_model_predicts_like_the_selected_checkpoint(lora_run):
    from training_helpers import random_batch

    from brainenc.runs.artifacts import load_trained_model as load_run

    metrics, objects = lora_run
    selected = objects["module"].model.eval()
    model, datamodule = load_run(objects["run_dir"])
    assert set(datamodule.mice) == {"A"}
    batch = random_batch("A", datamodule.mice["A"].num_neurons, batch=1, frames=48)
    inputs = {"mouse_id": "A", "behavior": batch["behavior"], "pupil_center": batch["pupil_center"]}
    with torch.no_grad():
        expected = selected(batch["video"], **inputs)
        torch.testing.assert_close(model(batch["video"], **inputs), expected, rtol=1e-5, atol=1e-6)


def test_evaluate_command_rescores_the_run_like_training(lora_run, capsys):
    from brainenc.evaluate import main

    metrics, objects = lora_run
    run_dir = objects["run_dir"]
    assert main([str(run_dir), "--split", "test"]) == 0
    printed = capsys.readouterr().out
    rows = {line[:33].strip(): line[33:].split() for line in printed.splitlines()}
    assert float(rows["model"][0]) == pytest.approx(metrics["test/corr"], abs=1e-4)
    for reference in ("trial-average baseline", "ridge (video + behaviour)", "noise ceiling"):
        assert float(rows[[k for k in rows if k.startswith(reference)][0]][0]) != 0
    written = json.loads((run_dir / "evaluation" / "metrics.json").read_text())
    assert written["split"] == "test"
    # Same model, frames and metric code as the end-of-run test: the same score.
    assert written["values"]["test/corr"] == pytest.approx(metrics["test/corr"], abs=1e-4)
    assert written["values"]["baseline/test/corr"] == pytest.approx(
        metrics["baseline/test/corr"], abs=1e-4
    )
    assert list((run_dir / "evaluation" / "figures").glob("*.png"))


def test_short_fit_raises_validation_correlation(make_config, run_overrides):
    cfg = make_config(
        [*run_overrides, "peft=none", "trainer.max_epochs=1", "optim.optimizer.lr=1e-2"]
    )
    metrics, _ = train(cfg)
    assert metrics["val/corr"] > metrics["val/corr_initial"] + 0.05


def test_resume_continues_at_the_same_step(make_config, run_overrides, tmp_path):
    first = [*run_overrides, "peft=none", "+trainer.limit_train_batches=3", "evaluation.test=false"]
    metrics, objects = train(make_config([*first, "trainer.max_epochs=1"], tmp_path / "first"))
    assert objects["trainer"].global_step == 3
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 3
    resumed = make_config(
        [*first, "trainer.max_epochs=2", f"ckpt_path={last}"], tmp_path / "second"
    )
    metrics, objects = train(resumed)
    assert objects["trainer"].global_step == 6 and objects["trainer"].current_epoch == 2


def test_continue_from_a_lora_run_starts_from_its_weights(
    make_config, run_overrides, lora_run, core_checkpoint, tmp_path
):
    metrics, objects = lora_run
    cfg = make_config(
        [
            *run_overrides,
            "peft=lora8_all",
            "peft.train_head=true",
            f"pretrained.path={core_checkpoint}",
            f"+continue_from={objects['run_dir']}",
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=1",
            "evaluation.test=false",
        ],
        tmp_path / "continued",
    )
    continued, _ = train(cfg)
    assert continued["val/corr_initial"] == pytest.approx(metrics["val/corr"], abs=1e-6)


def test_continue_from_refuses_another_lora_setting(
    make_config, run_overrides, lora_run, core_checkpoint, tmp_path
):
    _, objects = lora_run
    cfg = make_config(
        [
            *run_overrides,
            "peft=lora16_fused",
            f"pretrained.path={core_checkpoint}",
            f"+continue_from={objects['run_dir']}",
            "debug=fdr",
        ],
        tmp_path / "mismatch",
    )
    with pytest.raises(ValueError, match="continue_from: the checkpoint does not fit"):
        train(cfg)


def test_pretraining_stage_runs_once_then_is_reused(make_config, run_overrides, tmp_path):
    checkpoint = tmp_path / "pretrained" / "core_B.pt"
    overrides = [
        *run_overrides,
        "peft=lora8_fused",
        "peft.train_head=true",
        "debug=fdr",
        f"pretrain.checkpoint={checkpoint}",
        "pretrain.data.mouse_ids=[B]",
    ]
    # pretrain.data replaces the run's data node: give the full node (here: the run's, mouse B).
    cfg = make_config(overrides, tmp_path / "first")
    from omegaconf import OmegaConf, open_dict

    with open_dict(cfg):
        cfg.pretrain.data = OmegaConf.merge(cfg.data, {"mouse_ids": ["B"]})
        cfg.pretrain.peft = {"_target_": "brainenc.training.strategies.FromScratch", "name": "none"}
    metrics, objects = train(cfg)
    assert checkpoint.is_file() and (tmp_path / "first" / "pretrain" / "metrics.json").is_file()
    sidecar = json.loads(checkpoint.with_name("core_B.pt.json").read_text())
    assert len(sidecar["fingerprint"]) == 64
    stamp = checkpoint.stat().st_mtime_ns
    pretrained_core = torch.load(checkpoint, weights_only=True)["model"]
    assert "readouts.B.features" in pretrained_core and "readouts.A.features" not in pretrained_core
    core_now = {
        k: v
        for k, v in objects["module"].model.state_dict().items()
        if "core." in k and "lora" not in k
    }
    assert core_now and all(
        torch.equal(
            v, pretrained_core[k.removeprefix("base_model.model.").replace(".base_layer", "")]
        )
        for k, v in core_now.items()
    )
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "second")
    train(cfg.copy())
    assert checkpoint.stat().st_mtime_ns == stamp  # reused, not retrained
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "third")
        cfg.pretrain.seed = 7  # another pretraining setting, same checkpoint file
    with pytest.raises(ValueError, match="made by another pretraining config"):
        train(cfg)


def test_metrics_are_finite_numbers(lora_run):
    metrics, _ = lora_run
    values = [v for k, v in metrics.items() if k.startswith(("val/", "test/", "baseline/"))]
    assert values and np.isfinite(values).all()


def test_wandb_offline_run_is_logged_and_finished(make_config, run_overrides, monkeypatch):
    wandb = pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = make_config([*run_overrides, "peft=none", "debug=fdr", "logger=wandb"])
    metrics, objects = train(cfg)
    assert wandb.run is None  # finished after the job, so multirun jobs do not share a run
    runs = list((objects["run_dir"] / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].rglob("*.wandb"))
