"""Each on-disk format has one module that reads it and one that writes it.

The owners are imported and their path constants collected; then every other module of the
package is parsed (nothing is run) and must not spell any of those paths: as a string literal
(`"metrics.json"`, `f"{run}/checkpoints/last.ckpt"`) or as a `/` chain of literals
(`folder / "meta" / "trials"`). Docstrings and messages (strings with spaces) may name them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import brainenc
from brainenc.data import mouse_folder, sensorium
from brainenc.runs import artifacts as run_artifacts
from brainenc.runs import folder as run_folder

SOURCE = Path(brainenc.__file__).parent
RUN_MODULES = {
    _name
    for _name in (f"brainenc.runs.{p.stem}" for p in (SOURCE / "runs").glob("*.py"))
    if not _name.endswith("__init__")
}

# format -> (the modules that read and write it, the paths only they may spell)
FORMATS: dict[str, tuple[set[str], list[str]]] = {
    "built mouse folder": (
        {"brainenc.data.mouse_folder", "brainenc.data.writer"},
        [
            mouse_folder.VERIFIED,
            mouse_folder.TRIALS,
            mouse_folder.NEURONS,
            mouse_folder.SESSION,
            mouse_folder.STATISTICS_DIR,
            *(f"data/{name}" for name in mouse_folder.FOLDERS.values()),
        ],
    ),
    # The Sensorium 2023 layout, which the built folder imitates (meta/trials, meta/neurons, ...).
    "Sensorium recording folder": (
        {"brainenc.data.sensorium"},
        [
            sensorium.TIERS_FILE.as_posix(),
            sensorium.CACHE.as_posix(),
            *(f"data/{name}" for name in mouse_folder.FOLDERS.values()),
            mouse_folder.TRIALS,
            mouse_folder.NEURONS,
            mouse_folder.STATISTICS_DIR,
        ],
    ),
    "run folder": (
        RUN_MODULES,
        [
            run_folder.RESOLVED_CONFIG,
            run_folder.HYDRA_CONFIG,
            run_folder.PROVENANCE,
            run_folder.TRAINABLE,
            run_folder.METRICS,
            run_folder.CSV_LOG,
            run_folder.CHECKPOINT_FOLDER,
            run_folder.BEST_CHECKPOINT,
            run_folder.LAST_CHECKPOINT,
            run_folder.INTERRUPTED_CHECKPOINT,
            run_folder.EXPORTED_MODEL,
            run_folder.CURVES_FIGURE,
            run_folder.LOCK_FILE,
            run_artifacts.HEADS,
            run_artifacts.BASE_CORE,
        ],
    ),
}


def _allowed() -> dict[str, set[str]]:
    allowed: dict[str, set[str]] = {}
    for owners, paths in FORMATS.values():
        for path in paths:
            allowed.setdefault(path, set()).update(owners)
    return allowed


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
    return found


def _division_chain(node: ast.BinOp) -> list[str]:
    """The string literals of ``a / "x" / "y"``, in order."""
    parts: list[str] = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        if isinstance(node.right, ast.Constant) and isinstance(node.right.value, str):
            parts.insert(0, node.right.value)
        node = node.left
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        parts.insert(0, node.value)
    return parts


def spelled_paths(path: Path) -> set[str]:
    """Every path-like string a module spells (no spaces; docstrings left out)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _docstrings(tree)
    spelled: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            spelled.add(node.value)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts = _division_chain(node)
            if len(parts) > 1:
                spelled.add("/".join(parts))
    return {value for value in spelled if value and not any(c.isspace() for c in value)}


def _names(spelled: str, path: str) -> bool:
    return (
        spelled == path
        or spelled.endswith("/" + path)
        or spelled.startswith(path + "/")
        or f"/{path}/" in spelled
    )


def test_the_scan_sees_literals_f_strings_and_path_chains(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        '''"""Writes metrics.json."""\n'''
        'a = run / "metrics.json"\n'
        'b = f"{run}/checkpoints/last.ckpt"\n'
        'c = folder / "meta" / "trials"\n'
        'd = f"no metrics.json in {run}"\n'
    )
    spelled = spelled_paths(module)
    assert {"metrics.json", "/checkpoints/last.ckpt", "meta/trials"} <= spelled
    assert not any(" " in value for value in spelled)
    assert _names("/checkpoints/last.ckpt", run_folder.LAST_CHECKPOINT)


def test_every_format_has_owners_that_exist() -> None:
    for name, (owners, paths) in FORMATS.items():
        assert owners and paths, name
        for module in owners:
            assert _file(module).is_file(), f"{name}: owner {module} not found"


def _file(module: str) -> Path:
    path = SOURCE.parent / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


@pytest.mark.parametrize("path", sorted(SOURCE.rglob("*.py")), ids=lambda p: _module_name(p))
def test_no_other_module_spells_a_format_path(path: Path) -> None:
    module = _module_name(path)
    offending = [
        f"{spelled!r} ({format_path} belongs to {', '.join(sorted(owners))})"
        for spelled in sorted(spelled_paths(path))
        for format_path, owners in _allowed().items()
        if module not in owners and _names(spelled, format_path)
    ]
    assert not offending, f"{module} spells paths of formats it does not own: {offending}"
