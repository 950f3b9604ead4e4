"""Loggers and callbacks built from the ``logger`` and ``callbacks`` config groups.

Both groups are dicts of named ``_target_`` nodes; a node instantiating to ``None`` is skipped.
wandb is the logger of record, and :func:`wandb_logger` decides whether and how it runs:

* ``policy="auto"`` (``logger=auto``, the default): wandb when it is importable and either
  ``WANDB_API_KEY`` or ``WANDB_MODE`` is set, otherwise nothing (the CSV logger always runs);
* ``policy="always"`` (``logger=wandb``): wandb, offline when no API key is set (sync later with
  ``wandb sync <run_dir>/wandb/offline-run-*``); a clear error when wandb is not installed.

``WANDB_MODE`` (``online``/``offline``/``disabled``) is respected when set.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

WANDB_POLICIES = ("auto", "always")


def wandb_logger(
    policy: str = "auto",
    project: str = "brainenc",
    save_dir: str | Path = ".",
    name: str | None = None,
    group: str | None = None,
    tags: list[str] | None = None,
    entity: str | None = None,
) -> Logger | None:
    """A ``WandbLogger`` according to ``policy`` (see module docstring), or None."""
    if policy not in WANDB_POLICIES:
        raise ValueError(f"logger.wandb.policy={policy!r}; valid: {', '.join(WANDB_POLICIES)}.")
    installed = importlib.util.find_spec("wandb") is not None
    configured = bool(os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE"))
    if policy == "auto" and not (installed and configured):
        return None
    if not installed:
        raise ModuleNotFoundError(
            "logger=wandb needs the wandb package: `pip install wandb`, or use logger=csv."
        )
    from lightning.pytorch.loggers import WandbLogger

    offline = os.environ.get("WANDB_MODE") == "offline" or (
        "WANDB_MODE" not in os.environ and not os.environ.get("WANDB_API_KEY")
    )
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    return WandbLogger(
        project=project,
        save_dir=str(save_dir),
        name=name,
        group=group,
        tags=list(tags or []),
        entity=entity,
        offline=offline,
        log_model=False,
    )


def instantiate_named(nodes: DictConfig | Mapping[str, Any] | None, group: str) -> list[Any]:
    """Instantiate every ``_target_`` node of a ``{name: node}`` config; drop ``None`` results."""
    if not nodes:
        return []
    built = []
    for name, node in nodes.items():
        if node is None:
            continue
        if not isinstance(node, DictConfig | Mapping) or "_target_" not in node:
            raise ValueError(
                f"{group}.{name} must be a config node with a _target_, found "
                f"{OmegaConf.to_container(node) if isinstance(node, DictConfig) else node!r}."
            )
        instance = instantiate(node)
        if instance is not None:
            built.append(instance)
    return built


def close_wandb() -> None:
    """Finish the active wandb run, if any (between jobs of a multirun)."""
    if importlib.util.find_spec("wandb") is None:
        return
    import wandb

    if wandb.run is not None:
        wandb.finish()
