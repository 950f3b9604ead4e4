"""Folders a failed build leaves behind are removed again, unless they hold data."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# allensdk writes its cache manifest as soon as a cache is opened: not data.
BOOKKEEPING = ("manifest.json",)


def _holds_data(folder: Path) -> bool:
    return any(p.is_file() and p.name not in BOOKKEEPING for p in folder.rglob("*"))


@contextmanager
def removed_on_failure(*folders: str | Path) -> Iterator[None]:
    """Remove each of ``folders`` that did not exist before the block if the block fails.

    A folder is only removed while it holds no file but :data:`BOOKKEEPING` (e.g. an Allen
    cache whose first download failed), so a failure never deletes anything read or written.
    """
    created = [Path(f) for f in folders if not Path(f).exists()]
    try:
        yield
    except BaseException:
        for folder in created:
            if folder.is_dir() and not _holds_data(folder):
                shutil.rmtree(folder, ignore_errors=True)
        raise
