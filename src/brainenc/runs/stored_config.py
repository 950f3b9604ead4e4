"""Building objects from a config read from disk (a run folder's ``config_resolved.yaml``).

A run folder is data: whoever can edit it must not be able to run code through it. Hydra's
``instantiate`` imports and calls whatever ``_target_`` names, so a stored config is only
instantiated after every node of the parts to build was checked against :data:`BUILDABLE`,
the allow-list of what a stored config may build:

* ``data``: ``brainenc.data.BrainDataModule``;
* ``model``: ``brainenc.models.ViV1T`` as a partial (the mice are passed later);
* ``model.core``: ``brainenc.models.ViViTCore``.

Every other ``_target_``, any ``_args_`` / ``_recursive_`` / ``_convert_`` key, a
``_partial_`` that differs from the list, and any ``${...}`` interpolation (the stored config
is fully resolved when written) are refused with :class:`StoredConfigError` before anything is
imported or called. A new model or data class that runs should rebuild is added here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Buildable:
    """What the node at one key of a stored config may build."""

    target: str
    partial: bool = False


BUILDABLE: dict[str, Buildable] = {
    "data": Buildable("brainenc.data.BrainDataModule"),
    "model": Buildable("brainenc.models.ViV1T", partial=True),
    "model.core": Buildable("brainenc.models.ViViTCore"),
}
_HYDRA_KEYS = ("_target_", "_partial_", "_args_", "_recursive_", "_convert_")


class StoredConfigError(ValueError):
    """A stored config asks to build something it may not (the message names file and key)."""


def _refuse(source: Path, key: str, found: str) -> StoredConfigError:
    allowed = "; ".join(
        f"{k}: {b.target}{' (_partial_: true)' if b.partial else ''}" for k, b in BUILDABLE.items()
    )
    return StoredConfigError(
        f"{source}: {key} {found}. A run folder is data, so brainenc builds from it only {allowed}"
        " (brainenc.runs.stored_config.BUILDABLE). Restore the file as training wrote it, "
        "or rerun the training."
    )


def _check(node: Any, key: str, source: Path) -> None:
    if isinstance(node, Mapping):
        for special in _HYDRA_KEYS[2:]:
            if special in node:
                raise _refuse(source, f"{key}.{special}", "is set")
        expected = BUILDABLE.get(key)
        target = node.get("_target_")
        if expected is None and ("_target_" in node or "_partial_" in node):
            raise _refuse(source, key, f"names _target_={target!r}, which it may not build")
        if expected is not None:
            if target != expected.target:
                raise _refuse(source, f"{key}._target_", f"is {target!r}, not {expected.target!r}")
            if node.get("_partial_", False) is not expected.partial:
                raise _refuse(source, f"{key}._partial_", f"is {node.get('_partial_')!r}")
        for name, value in node.items():
            _check(value, f"{key}.{name}", source)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _check(item, f"{key}[{index}]", source)
    elif isinstance(node, str) and "${" in node:
        raise _refuse(
            source, key, f"holds the interpolation {node!r} (stored configs are resolved)"
        )


def check_stored(config: Mapping[str, Any], source: str | Path, *keys: str) -> None:
    """Refuse ``config[key]`` for any key that may not be built as stored (module docstring).

    Raises
    ------
    StoredConfigError
        Naming ``source`` and the offending key.
    """
    for key in keys:
        if not isinstance(config.get(key), Mapping):
            raise _refuse(Path(source), key, "is missing or not a mapping")
        _check(config[key], key, Path(source))


def build_stored(config: Mapping[str, Any], source: str | Path, *keys: str) -> tuple[Any, ...]:
    """Instantiate ``config[key]`` for each key, after checking all of them (module docstring).

    Parameters
    ----------
    config
        The stored config as plain data (e.g. from ``yaml.safe_load``).
    source
        The file it was read from, named in errors.
    keys
        Top-level keys of :data:`BUILDABLE` (``"data"``, ``"model"``).

    Returns
    -------
    tuple
        One object per key, in order.
    """
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    source = Path(source)
    check_stored(config, source, *keys)
    built = []
    for key in keys:
        try:
            built.append(instantiate(OmegaConf.create(dict(config[key]))))
        except Exception as error:
            cause = error.__cause__ or error
            raise StoredConfigError(
                f"{source}: cannot build {key} ({BUILDABLE[key].target}) from it: {cause}. The "
                "file was edited, or the run was made by another brainenc version; restore the "
                "file or rerun the training."
            ) from error
    return tuple(built)
