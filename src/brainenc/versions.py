"""Installed package versions, recorded in dataset manifests and run provenance."""

from __future__ import annotations

import importlib.metadata


def package_versions(packages: tuple[str, ...]) -> dict[str, str | None]:
    """Installed version of each package, None when it is not installed."""
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions
