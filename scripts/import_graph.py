"""Print the import graph between brainenc's packages, read from the source (nothing is imported).

Usage: ``python scripts/import_graph.py [--modules]``. Each line is ``importer -> imported (n)``:
n modules of the importing package import the other package, at any depth (deferred imports
inside functions count too). ``--modules`` lists the module-level edges as well.
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "brainenc"


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The brainenc modules ``path`` imports (absolute names)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("brainenc"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("brainenc"):
                found.add(node.module)
    return found


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "brainenc"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", action="store_true", help="list module-level edges too")
    args = parser.parse_args()
    packages: dict[tuple[str, str], set[str]] = defaultdict(set)
    modules: list[tuple[str, str]] = []
    for path in sorted(SOURCE.rglob("*.py")):
        importer = module_name(path)
        for imported in sorted(imported_modules(path)):
            source, target = package_of(importer), package_of(imported)
            if source != target:
                packages[source, target].add(importer)
                modules.append((importer, imported))
    for (source, target), importers in sorted(packages.items()):
        print(f"{source} -> {target} ({len(importers)})")
    if args.modules:
        print()
        for importer, imported in modules:
            print(f"{importer} -> {imported}")


if __name__ == "__main__":
    main()
