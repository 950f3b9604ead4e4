"""The built dataset folder: atomic writing, manifest, checksums and integrity checks.

A mouse folder is written into a hidden sibling `.<mouse_id>.tmp-<pid>-<token>` and renamed into
place only when complete, so a failed or killed build never leaves a partial dataset at
`<root>/<mouse_id>`. Replacing an existing folder (`overwrite=true`) first renames the old one
to `.<mouse_id>.old-<pid>-<token>`, then renames the new one into place, then deletes the old
one. Leftovers of killed builds are removed (or, for an interrupted replacement, restored) by
`sweep_stale` before the next build. Files are not fsync'ed (it cost 3-4 ms per file, seconds per
mouse): after a power loss a renamed folder could hold short files, which the size check of
`verify_folder` (run whenever a dataset is opened) reports with the rebuild command.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from brainenc.data.errors import DatasetExistsError, DatasetIntegrityError, DatasetWriteError

MANIFEST = "manifest.json"
# Sample dict key -> folder name under data/ and meta/statistics/.
FOLDERS = {
    "video": "videos",
    "behavior": "behavior",
    "pupil_center": "pupil_center",
    "responses": "responses",
}
STATISTICS = ("mean", "std", "min", "max")
FORMAT_VERSION = 1
STALE = re.compile(r"^\.(?P<mouse>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-[0-9a-f]+$")
REBUILD_HINT = (
    "Rebuild it with `python -m brainenc.data.build data.build.overwrite=true` "
    "(or delete the folder and run the build again)."
)


class FolderWriter:
    """Write one dataset folder atomically; use as a context manager.

    Files go to a temporary sibling; `commit` writes the manifest and renames the folder into
    place. Leaving the `with` block without a commit (an exception) deletes the temporary folder.
    """

    def __init__(self, target: Path):
        self.target = Path(target)
        token = secrets.token_hex(4)
        self.path = self.target.parent / f".{self.target.name}.tmp-{os.getpid()}-{token}"
        self.arrays: dict[str, dict[str, Any]] = {}
        self._committed = False

    def __enter__(self) -> FolderWriter:
        self.path.mkdir(parents=True)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._committed:
            return
        written = _folder_bytes(self.path)
        shutil.rmtree(self.path, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            kept = (
                "the existing dataset there is unchanged"
                if self.target.exists()
                else ("no partial dataset was left")
            )
            raise DatasetWriteError(
                exc.errno,
                f"writing dataset {self.target} failed after {written / 2**20:.1f} MiB: "
                f"{exc.strerror} (on the file system of {self.target.parent}); {kept}. Free "
                "disk space or point data.root at a larger disk, then run the build again.",
            ) from exc

    def save(self, relative: str, array: np.ndarray) -> None:
        """Write `array` as .npy at `relative` and record its size, shape, dtype and sha256."""
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
        data = buffer.getvalue()
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.arrays[relative] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "shape": list(array.shape),
            "dtype": str(array.dtype),
        }

    def file(self, relative: str) -> Path:
        """Path for a non-array file (figures) inside the folder being written."""
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def commit(self, manifest: dict[str, Any], overwrite: bool) -> Path:
        """Write the manifest and move the folder into place; returns the final path."""
        manifest = {**manifest, "format_version": FORMAT_VERSION, "arrays": self.arrays}
        (self.path / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        if self.target.exists():
            if not overwrite:
                raise DatasetExistsError(
                    f"{self.target} exists; pass overwrite=true to replace it."
                )
            old = self.target.parent / self.path.name.replace(".tmp-", ".old-")
            os.rename(self.target, old)
            os.rename(self.path, self.target)
            shutil.rmtree(old)
        else:
            os.rename(self.path, self.target)
        self._committed = True
        return self.target


def sweep_stale(root: Path) -> list[Path]:
    """Remove leftovers of builds whose process is gone; restore interrupted replacements.

    Returns the paths removed or restored.
    """
    handled = []
    if not root.is_dir():
        return handled
    for path in sorted(root.iterdir()):
        match = STALE.match(path.name)
        if not match or _alive(int(match["pid"])):
            continue
        target = root / match["mouse"]
        if match["kind"] == "old" and not target.exists():
            os.rename(path, target)
        else:
            shutil.rmtree(path, ignore_errors=True)
        handled.append(path)
    return handled


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a built mouse folder, with an actionable error if absent or unreadable."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetIntegrityError(
            f"{folder} has no {MANIFEST}; it is not a complete brainenc dataset. {REBUILD_HINT}"
        ) from None
    except json.JSONDecodeError as error:
        raise DatasetIntegrityError(f"{path} is not valid JSON ({error}). {REBUILD_HINT}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DatasetIntegrityError(
            f"{path} has format_version {manifest.get('format_version')}, this brainenc reads "
            f"{FORMAT_VERSION}. {REBUILD_HINT}"
        )
    return manifest


def verify_folder(folder: Path, manifest: dict[str, Any], full: bool = False) -> None:
    """Check every array file against the manifest: size always, sha256 when `full`."""
    for relative, record in manifest["arrays"].items():
        path = Path(folder) / relative
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise DatasetIntegrityError(
                f"{folder}: {relative} is missing. {REBUILD_HINT}"
            ) from None
        if size != record["bytes"]:
            raise DatasetIntegrityError(
                f"{folder}: {relative} has {size} bytes, the manifest says {record['bytes']} "
                f"(truncated or replaced). {REBUILD_HINT}"
            )
        if full and sha256_file(path) != record["sha256"]:
            raise DatasetIntegrityError(
                f"{folder}: {relative} does not match its sha256 in the manifest. {REBUILD_HINT}"
            )


def read_statistics(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """Statistics saved as `<folder>/<variable folder>/{mean,std,min,max}.npy`."""
    return {
        name: {stat: load_array(Path(folder) / sub / f"{stat}.npy") for stat in STATISTICS}
        for name, sub in FOLDERS.items()
    }


def load_array(path: Path, mmap: bool = False) -> np.ndarray:
    """Read one .npy file of a dataset, never unpickling; unreadable files name the rebuild."""
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DatasetIntegrityError(
            f"{path} is not a plain numeric .npy array ({error}); the dataset is damaged or was "
            f"tampered with. {REBUILD_HINT}"
        ) from None


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
