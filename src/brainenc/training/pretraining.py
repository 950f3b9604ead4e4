"""The optional pretraining stage of a run (config node ``pretrain``).

A run with ``pretrain`` set first makes sure a pretrained core exists at ``pretrain.checkpoint``:

* when the file is missing, a nested run trains on the stage's config, which is this run's
  config with every node given in ``pretrain`` (e.g. ``data``, ``peft``, ``trainer``) replacing
  the run's node of that name. It writes a complete run directory in ``<run_dir>/pretrain/``;
  its selected model is saved in the ViV1T authors' checkpoint layout at ``pretrain.checkpoint``
  with a sidecar ``<checkpoint>.json`` recording the stage's config fingerprint;
* when the file exists and its sidecar carries the same fingerprint, it is reused; with another
  fingerprint the run stops (delete the file or choose another ``pretrain.checkpoint``).

The run then loads that core like any ``pretrained.path`` (``pretrained.part`` applies).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from brainenc.atomic_files import write_json_atomic
from brainenc.models import save_checkpoint
from brainenc.training.artifacts import plain_model
from brainenc.training.console import announce

FINGERPRINT_NODES = ("data", "model", "peft", "optim", "trainer", "loss", "seed")


def stage_config(cfg: DictConfig) -> DictConfig:
    """This run's config with the ``pretrain`` nodes swapped in, writing to ``<run_dir>/pretrain``."""
    stage = OmegaConf.to_container(cfg.pretrain, resolve=False)
    stage.pop("checkpoint", None)
    derived = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    with open_dict(derived):
        for key, node in stage.items():
            if key not in derived:
                raise KeyError(
                    f"pretrain.{key}: no node '{key}' in the run config to replace; pretrain may "
                    f"replace {', '.join(k for k in derived if k != 'pretrain')}."
                )
            derived[key] = node
        derived.pretrain = None
        derived.pretrained = {"path": None, "part": "core", "trust": False}
        derived.ckpt_path = None
        derived.pop("continue_from", None)
        derived.task_name = f"{cfg.task_name}_pretrain"
        derived.paths.output_dir = str(Path(cfg.paths.output_dir) / "pretrain")
        derived.export = {"adapter": False, "merged": False}
    return derived


def fingerprint(cfg: DictConfig) -> str:
    """sha256 of the resolved nodes that decide what a pretraining run learns."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    values = {k: resolved.get(k) for k in FINGERPRINT_NODES}
    if isinstance(values["trainer"], dict):
        values["trainer"].pop("default_root_dir", None)  # inside this run's folder
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def ensure_pretrained_core(
    cfg: DictConfig, train: Callable[[DictConfig], tuple[dict[str, Any], dict[str, Any]]]
) -> Path:
    """Return ``pretrain.checkpoint``, running the pretraining stage first if needed.

    Parameters
    ----------
    cfg
        The run's config (with ``pretrain.checkpoint`` and the nodes to replace).
    train
        :func:`brainenc.training.train`, called on the stage's config.
    """
    target = Path(cfg.pretrain.checkpoint)
    sidecar = target.with_name(target.name + ".json")
    stage = stage_config(cfg)
    wanted = fingerprint(stage)
    if target.is_file():
        recorded = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
        if recorded.get("fingerprint") != wanted:
            raise ValueError(
                f"pretrain.checkpoint={target} exists but was made by another pretraining config "
                f"(sidecar {sidecar.name} {'differs' if recorded else 'missing'}); delete it to "
                "pretrain again, or set pretrain.checkpoint to another file."
            )
        announce(f"reusing the pretrained core {target}")
        return target
    announce(f"pretraining a core -> {target} (run in {stage.paths.output_dir})")
    metrics, objects = train(stage)
    trainer = objects["trainer"]
    if trainer.is_global_zero:
        model = plain_model(objects["module"].model)
        value = metrics.get("val/corr")
        save_checkpoint(
            model,
            target,
            epoch=metrics.get("best_epoch") or 0,
            value=float("nan") if value is None else value,
        )
        write_json_atomic(
            sidecar,
            {
                "fingerprint": wanted,
                "run_dir": str(stage.paths.output_dir),
                "val/corr": metrics["val/corr"],
                "best_epoch": metrics["best_epoch"],
            },
        )
    return target
