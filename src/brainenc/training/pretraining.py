"""The pretraining stage of a run (config group ``pretrain``, default ``insilico_core``).

A run whose strategy needs a pretrained core (peft=head_only | full | lora*) and that names none
(no ``pretrained.path``, ``continue_from`` or ``ckpt_path``) first makes sure the stage's core
exists at ``pretrain.checkpoint`` (null: ``pretrained/insilico_core_<fingerprint[:12]>.pt``
under ``paths.root_dir``, so each model and recipe has its own file):

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
from brainenc.models.core import EXECUTION_SETTINGS
from brainenc.runs.artifacts import plain_model
from brainenc.runs.folder import PRETRAIN_FOLDER
from brainenc.training.console import announce

FINGERPRINT_NODES = ("data", "model", "peft", "optim", "trainer", "loss", "seed")
# Settings that decide where files live or how the work is run, not what is learned.
NOT_FINGERPRINTED = (
    ("data", "root"),
    ("data", "build", "cache_dir"),
    ("data", "build", "figures"),
    ("data", "verify"),
    ("data", "num_workers"),
    ("data", "pin_memory"),
    ("data", "persistent_workers"),
    *(("model", "core", name) for name in EXECUTION_SETTINGS),
    ("trainer", "default_root_dir"),
    ("trainer", "strategy"),
    ("trainer", "num_nodes"),
    ("trainer", "devices"),
    ("trainer", "enable_progress_bar"),
    ("trainer", "enable_model_summary"),
    ("trainer", "log_every_n_steps"),
)


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
        derived.paths.output_dir = str(Path(cfg.paths.output_dir) / PRETRAIN_FOLDER)
        derived.export = {"adapter": False, "merged": False}
    return derived


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def fingerprint(cfg: DictConfig) -> str:
    """sha256 of the resolved nodes that decide what a pretraining run learns.

    Where files live and how the work is run (:data:`NOT_FINGERPRINTED`) do not count, nor do
    settings left at null, so a checkout in another folder, or a new optional setting in a
    config group, keeps the cores made before valid.
    """
    resolved = _without_nulls(OmegaConf.to_container(cfg, resolve=True))
    values = {k: resolved.get(k) for k in FINGERPRINT_NODES}
    for *parents, key in NOT_FINGERPRINTED:
        node = values
        for parent in parents:
            node = node.get(parent) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(key, None)
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def needs_stage(cfg: DictConfig, requires_pretrained: bool) -> bool:
    """True when this run takes its core from the ``pretrain`` stage (see module docstring)."""
    pretrained = cfg.get("pretrained") or {}
    named = pretrained.get("path") or cfg.get("continue_from") or cfg.get("ckpt_path")
    return requires_pretrained and cfg.get("pretrain") is not None and not named


def checkpoint_path(cfg: DictConfig, stage_fingerprint: str) -> Path:
    """``pretrain.checkpoint``, or the default file named by the stage's fingerprint."""
    if cfg.pretrain.get("checkpoint"):
        return Path(cfg.pretrain.checkpoint)
    name = f"insilico_core_{stage_fingerprint[:12]}.pt"
    return Path(cfg.paths.root_dir) / "pretrained" / name


def _read_sidecar(path: Path) -> dict[str, Any]:
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def ensure_pretrained_core(
    cfg: DictConfig, train: Callable[[DictConfig], tuple[dict[str, Any], dict[str, Any]]]
) -> Path:
    """Return ``pretrain.checkpoint``, running the pretraining stage first if needed.

    Parameters
    ----------
    cfg
        The run's config (with the ``pretrain`` node: ``checkpoint`` and the nodes to replace).
    train
        :func:`brainenc.training.train`, called on the stage's config.
    """
    stage = stage_config(cfg)
    wanted = fingerprint(stage)
    target = checkpoint_path(cfg, wanted)
    sidecar = target.with_name(target.name + ".json")
    if target.is_file():
        recorded = _read_sidecar(sidecar)
        if recorded.get("fingerprint") != wanted:
            state = "differs" if recorded.get("fingerprint") else "is missing or unreadable"
            raise ValueError(
                f"pretrain.checkpoint={target} exists but was made by another pretraining config "
                f"(its sidecar {sidecar.name} {state}); delete it to pretrain again, or set "
                "pretrain.checkpoint to another file."
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
