"""Write files atomically: to a temporary name in the same folder, then rename over the target."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_destination(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    On any error the temporary file is removed, so no half-written file is ever left behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_json(path: Path, payload: Any) -> Path:
    """Atomically write ``payload`` as indented JSON and return ``path``."""
    with atomic_destination(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2) + "\n")
    return Path(path)
