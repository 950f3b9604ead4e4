"""No import climbs back up a layer: each package imports only from the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

import brainenc

SOURCE = Path(brainenc.__file__).parent
# Lowest first. Shared helpers (atomic_files, digests, versions, host_memory, conf) sit below everything;
# the commands (evaluate, report, cli, __main__) above everything.
LAYERS = ("insilico", "models", "data", "runs", "evaluation", "training")
HELPERS = ("atomic_files", "digests", "versions", "host_memory", "conf")


def _layer(module: str) -> int | None:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else ""
    if name in HELPERS:
        return -1
    return LAYERS.index(name) if name in LAYERS else None


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("brainenc.")}


def test_no_package_imports_from_a_higher_layer() -> None:
    upward = []
    for path in sorted(SOURCE.rglob("*.py")):
        importer = ".".join(path.relative_to(SOURCE.parent).with_suffix("").parts)
        own = _layer(importer)
        if own is None or own < 0:
            continue  # a command or a shared helper module
        for imported in _imports(path):
            layer = _layer(imported)
            if layer is None or layer > own:
                upward.append(f"{importer} -> {imported}")
    assert upward == []
