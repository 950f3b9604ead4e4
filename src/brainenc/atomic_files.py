"""Atomic file writes: a temporary sibling file, flushed, then renamed over the target.

A write that runs out of space raises :class:`DiskFullError` naming the file and the bytes it
needs; the previous file stays as it was and no temporary file is left behind.
:func:`check_writable` tells early, before any expensive work, that an output folder cannot be
written.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(OSError):
    """A file could not be written for lack of space (the message names it and the bytes needed)."""


class UnwritableFolderError(OSError):
    """An output folder cannot be written (the message names it, the setting and the reason)."""


def _disk_full(path: Path, needed: int, error: OSError, at_least: bool = False) -> DiskFullError:
    existing = next(p for p in (path.parent, *path.parent.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    return DiskFullError(
        error.errno,
        f"{path}: no space left on the device ({os.strerror(error.errno)}): writing it needs "
        f"{'at least ' if at_least else ''}{needed:,} bytes, {free:,} bytes are free in "
        f"{existing}. The previous file (if any) is unchanged; free some space or write to "
        "another disk, then run again.",
    )


def check_writable(folder: str | Path, setting: str) -> Path:
    """Make sure files can be created in ``folder`` (or, if it does not exist yet, in the
    nearest existing folder above it) without creating anything; returns ``folder``.

    Parameters
    ----------
    folder
        The output folder.
    setting
        The setting or argument that chose it, named in the error.

    Raises
    ------
    UnwritableFolderError
        When the probe file cannot be created there (read-only file system, permissions, a
        file in the way).
    """
    folder = Path(folder)
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    reason = None
    if not existing.is_dir():
        reason = f"{existing} is a file, not a folder"
    else:
        try:
            handle, probe = tempfile.mkstemp(dir=existing, prefix=".write-probe-")
            os.close(handle)
            os.unlink(probe)
        except OSError as error:
            reason = f"cannot create files in {existing}: {error.strerror or error}"
    if reason is not None:
        raise UnwritableFolderError(
            errno.EACCES,
            f"{folder} ({setting}) is not writable: {reason}. Make it writable, or point "
            f"{setting} at a writable folder.",
        )
    return folder


@contextlib.contextmanager
def atomic_destination(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    For writers that need a file name (h5py, ``np.savez``). On any error the temporary file is
    removed, so no half-written file is ever left behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        if error.errno not in NO_SPACE:
            raise
        written = temporary.stat().st_size if temporary.exists() else 0
        raise _disk_full(path, written, error, at_least=True) from error
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the complete new one.

    Raises
    ------
    DiskFullError
        When the disk (or quota) has less room than ``len(data)`` bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            remaining = memoryview(data)
            while remaining:
                remaining = remaining[os.write(handle, remaining) :]
            os.fsync(handle)
        finally:
            os.close(handle)
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in NO_SPACE:
            raise _disk_full(path, len(data), error) from error
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def _json_ready(value: Any) -> Any:
    """Replace NaN and infinities (invalid JSON) with None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    return value


def write_json_atomic(path: str | Path, payload: Any) -> Path:
    """Write strict JSON (NaN becomes null) atomically, indented and key-sorted."""
    text = json.dumps(_json_ready(payload), indent=2, sort_keys=True, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def save_figure_atomic(figure: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Render ``figure`` as PNG and write it atomically; returns ``path``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return write_bytes_atomic(path, buffer.getvalue())
