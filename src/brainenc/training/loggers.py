"""Loggers and callbacks built from the ``logger`` and ``callbacks`` config groups.

Both groups are dicts of named ``_target_`` nodes; a node instantiating to ``None`` is skipped.
wandb is the logger of record, and :func:`wandb_logger` decides whether and how it runs:

* ``policy="auto"`` (``logger=auto``, the default): wandb when it is importable and either
  ``WANDB_API_KEY`` or ``WANDB_MODE`` is set, otherwise nothing (the CSV logger always runs);
* ``policy="always"`` (``logger=wandb``): wandb, offline when no API key is set (sync later with
  ``wandb sync <run_dir>/wandb/offline-run-*``); a clear error when wandb is not installed.

``WANDB_MODE`` (``online``/``offline``/``disabled``) is respected when set. Each run is named
after its run folder (``<time>_<task_name>``, or a sweep job's ``<number>_<swept overrides>``), and
the jobs of a multirun share one group, the sweep folder's name. At the end,
:func:`log_run_outputs` sends the run's figures and its test scores among the references;
``log_model`` uploads checkpoints as artifacts (off by default).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

from brainenc.evaluation.references import (
    CEILING,
    PREDICTORS,
    fraction_of_ceiling,
    read_references,
)
from brainenc.training.console import announce

WANDB_POLICIES = ("auto", "always")


def wandb_logger(
    policy: str = "auto",
    project: str = "brainenc",
    save_dir: str | Path = ".",
    name: str | None = None,
    group: str | None = None,
    tags: list[str] | None = None,
    entity: str | None = None,
    log_model: bool | str = False,
) -> Logger | None:
    """A ``WandbLogger`` according to ``policy`` (see module docstring), or None.

    ``name`` None: the run folder's name (``save_dir``); ``group`` None: the sweep folder's name
    in a multirun, else no group. ``log_model``: ``True`` uploads the checkpoints at the end,
    ``"all"`` each as it is saved, ``False`` none; an offline run uploads none.
    """
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
    if log_model and offline:
        announce(
            f"logger.wandb.log_model={log_model}: an offline wandb run cannot upload checkpoints "
            "(set WANDB_API_KEY); they stay in <run_dir>/checkpoints"
        )
        log_model = False
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    return WandbLogger(
        project=project,
        save_dir=str(save_dir),
        name=name or Path(save_dir).resolve().name,
        group=group or sweep_group(),
        tags=list(tags or []),
        entity=entity,
        offline=offline,
        log_model=log_model,
    )


def sweep_group() -> str | None:
    """The sweep folder's name when this job is part of a Hydra multirun, else None."""
    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.get()
    return Path(hydra.sweep.dir).name if hydra.mode == RunMode.MULTIRUN else None


SCORE_COLUMNS = ["predictor", "test corr", "fraction of ceiling"]


def score_rows(metrics: Mapping[str, Any]) -> list[list[Any]]:
    """The model's ``test/corr`` among the reference predictors of a ``metrics.json``, as rows of
    :data:`SCORE_COLUMNS` (absent scores None)."""
    references = read_references(metrics) or {}
    ceiling = references[CEILING].corr if references else None
    scores = {"model": metrics.get("test/corr")}
    if references:
        scores |= {label: references[name].corr for name, label in PREDICTORS.items()}
    else:
        scores[PREDICTORS["baseline"]] = metrics.get("baseline/test/corr")
    return [[label, v, fraction_of_ceiling(v, ceiling)] for label, v in scores.items()]


def log_run_outputs(
    loggers: Sequence[Logger], metrics: Mapping[str, Any], figures: Sequence[Path]
) -> None:
    """Send a finished run's figures (PNG, as ``figures/<file stem>``) and its test scores among
    the references (table ``test/scores``, :func:`score_rows`) to the loggers that take them."""
    for logger in loggers:
        if hasattr(logger, "log_image"):
            for figure in figures:
                logger.log_image(key=f"figures/{figure.stem}", images=[str(figure)])
        if hasattr(logger, "log_table") and metrics.get("test/corr") is not None:
            logger.log_table(key="test/scores", columns=SCORE_COLUMNS, data=score_rows(metrics))


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
