"""One name per idea: no two modules, classes or public functions of the package share a name
(the commands' ``main`` aside), so an import or a search never finds the wrong one."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import brainenc

SOURCE = Path(brainenc.__file__).parent
MODULES = sorted(SOURCE.rglob("*.py"))


def _top_level(kind: type) -> dict[str, list[str]]:
    where: dict[str, list[str]] = defaultdict(list)
    for path in MODULES:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, kind) and not node.name.startswith("_"):
                where[node.name].append(str(path.relative_to(SOURCE)))
    return where


def test_module_file_names_are_unique() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for path in MODULES:
        if path.stem not in ("__init__", "__main__"):
            where[path.name].append(str(path.relative_to(SOURCE)))
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}


def test_class_names_are_unique() -> None:
    where = _top_level(ast.ClassDef)
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}


def test_public_function_names_are_unique() -> None:
    where = _top_level(ast.FunctionDef)
    where.pop("main", None)  # each command module's entry point (brainenc.cli.SUBCOMMANDS)
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}
