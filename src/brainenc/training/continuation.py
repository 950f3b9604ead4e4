"""``+continue_from=RUN``: a new run takes the earlier run's data and model settings.

The earlier run's ``config_resolved.yaml`` (read as data by :mod:`brainenc.runs.folder` and
checked against the allow-list of :mod:`brainenc.runs.stored_config`) gives the ``data`` and
``model`` nodes. Settings given on this command line under ``data.`` or ``model.`` (for example
``data.batch_size=8`` or ``model.core.p_dropout=0.2``) are applied on top; choosing another
option of the group (``data=...``, ``model=...``, or an ``experiment=...``) keeps this run's node
instead. Either way, a model whose weights could not hold the earlier run's
(:func:`architecture_differences`) is refused before anything is built.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from brainenc.models.core import EXECUTION_SETTINGS
from brainenc.runs.folder import enclosing_run_dir, read_resolved_config
from brainenc.runs.stored_config import check_stored
from brainenc.training.config_checks import ConfigCheckError
from brainenc.training.console import announce

ADOPTED = ("data", "model")
# Model settings that change how the weights are used, not which weights exist.
WEIGHTLESS_SETTINGS = (
    *(f"core.{name}" for name in EXECUTION_SETTINGS),
    "core.p_dropout",
    "core.mha_dropout",
    "core.ff_dropout",
    "core.drop_path",
    "readout_dropout",
)


def _command_line_keys() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return [str(item).split("=", 1)[0].lstrip("+~") for item in HydraConfig.get().overrides.task]


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: node}


def architecture_differences(stored: dict[str, Any], model: dict[str, Any]) -> list[str]:
    """``model.<key>`` entries (other than :data:`WEIGHTLESS_SETTINGS`) that differ."""
    before, after = _flatten(stored), _flatten(model)
    return [
        f"model.{key}={after.get(key)!r} (the earlier run: {before.get(key)!r})"
        for key in sorted(set(before) | set(after))
        if key not in WEIGHTLESS_SETTINGS and before.get(key) != after.get(key)
    ]


def continued_config(cfg: DictConfig) -> DictConfig:
    """``cfg`` with the earlier run's ``data`` and ``model`` (see module docstring).

    Returns ``cfg`` itself when there is no ``continue_from`` or it names a checkpoint outside
    a run folder.

    Raises
    ------
    ConfigCheckError
        The model differs from the earlier run's in a setting that changes its weights.
    """
    run_dir = enclosing_run_dir(cfg.continue_from) if cfg.get("continue_from") else None
    if run_dir is None:
        return cfg
    source, stored = read_resolved_config(run_dir)
    check_stored(stored, source, *ADOPTED)
    given = _command_line_keys()
    merged = cfg.copy()
    adopted = [g for g in ADOPTED if g not in given and "experiment" not in given]
    with open_dict(merged):
        for group in adopted:
            node = OmegaConf.create(stored[group])
            for key in given:
                if key.startswith(f"{group}."):
                    OmegaConf.update(node, key[len(group) + 1 :], OmegaConf.select(cfg, key))
            merged[group] = node
    differences = architecture_differences(
        stored["model"], OmegaConf.to_container(merged.model, resolve=True)
    )
    if differences:
        raise ConfigCheckError(
            f"continue_from={cfg.continue_from}: this run's model differs from the earlier run's "
            f"({source}) in {', '.join(differences)}, so its weights cannot be loaded. Drop the "
            "model settings from the command line to continue with the earlier run's model."
        )
    if adopted:
        announce(f"continue_from: {' and '.join(adopted)} settings of {source}")
    return merged
