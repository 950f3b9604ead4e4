"""The built dataset folder: atomic writing, manifest, checksums and integrity checks.

A mouse folder is written into a hidden sibling `.<mouse_id>.tmp-<pid>-<token>` and renamed into
place only when complete, so a failed or killed build never leaves a partial dataset at
`<root>/<mouse_id>`. Replacing an existing folder (`overwrite=true`) first renames the old one
to `.<mouse_id>.old-<pid>-<token>`, then renames the new one into place, then deletes the old
one. Leftovers of killed builds are removed (or, for an interrupted replacement, restored) by
`sweep_stale` before the next build. Files are not fsync'ed (it cost 3-4 ms per file, seconds per
mouse): after a power loss a renamed folder could hold short files, which the size check of
`verify_folder` (run whenever a dataset is opened) reports with the rebuild command.

Verification (`verify_folder`) checks sizes always and sha256 on demand; with `cache`, a file's
sha256 is computed once and remembered in `<mouse folder>/.verified.json` by its (size, mtime)
stamp, so an edit that keeps the size (which changes the mtime) is caught at the next open while
unchanged files cost one `stat`. The builder seeds that file. `build_lock` serialises builds
into one dataset root.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from brainenc.atomic_files import write_json_atomic
from brainenc.data.errors import DatasetExistsError, DatasetIntegrityError, DatasetWriteError

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
VERIFIED = ".verified.json"
# Stamps younger than this when the cache is written are not trusted: a same-size edit within
# the file system's timestamp granularity would keep the mtime (git's "racy" entries).
RACY_NS = 2_000_000_000
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
        _remember_verified(
            self.path, {rel: _stamp(self.path / rel, r) for rel, r in self.arrays.items()}
        )
        if self.target.exists():
            if not overwrite:
                raise DatasetExistsError(
                    f"{self.target} already exists: it appeared while this build was writing "
                    "(something other than a brainenc build wrote it; those of one root run one "
                    "at a time) and was left as is. Run the build again: it keeps the folder if "
                    "it was built with these settings and replaces it only with "
                    "data.build.overwrite=true."
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
    """The manifest of a built mouse folder, with an actionable error if absent or unreadable.

    Checks its structure: a JSON object of this format version whose `arrays` maps every
    relative file path to a record with `bytes` (int) and `sha256` (str).
    """
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetIntegrityError(
            f"{folder} has no {MANIFEST}; it is not a complete brainenc dataset. {REBUILD_HINT}"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetIntegrityError(f"{path} is not valid JSON ({error}). {REBUILD_HINT}") from None
    if not isinstance(manifest, dict):
        raise DatasetIntegrityError(
            f"{path} holds a JSON {type(manifest).__name__}, expected an object (the manifest "
            f"written by the build). {REBUILD_HINT}"
        )
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DatasetIntegrityError(
            f"{path} has format_version {manifest.get('format_version')}, this brainenc reads "
            f"{FORMAT_VERSION}. {REBUILD_HINT}"
        )
    arrays = manifest.get("arrays")
    if not isinstance(arrays, dict) or not all(_is_record(r) for r in arrays.values()):
        raise DatasetIntegrityError(
            f"{path} has no valid 'arrays' table (file -> {{bytes, sha256, shape}}); the manifest "
            f"was edited or damaged. {REBUILD_HINT}"
        )
    return manifest


def manifest_value(
    manifest: dict[str, Any], key: str, kind: type | tuple[type, ...], folder: Path
) -> Any:
    """``manifest[key]``, refusing a missing entry or one that is not of type ``kind``."""
    value = manifest.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DatasetIntegrityError(
            f"{Path(folder) / MANIFEST}: '{key}' is {value!r}, expected a "
            f"{getattr(kind, '__name__', kind)}; the manifest was edited or damaged. {REBUILD_HINT}"
        )
    return value


def verify_folder(
    folder: Path, manifest: dict[str, Any], full: bool = False, cache: bool = False
) -> None:
    """Check every array file against the manifest.

    Sizes always; sha256 of every file when `full`; with `cache`, sha256 of the files whose
    (size, mtime) stamp is not remembered in `<folder>/.verified.json`, remembering those that
    match (a read-only folder is verified the same way, only not remembered).
    """
    folder = Path(folder)
    known = _read_verified(folder) if cache else {}
    verified = {}
    for relative, record in manifest["arrays"].items():
        path = folder / relative
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
        if not (full or cache):
            continue
        stamp = _stamp(path, record)
        if (full or known.get(relative) != stamp) and sha256_file(path) != record["sha256"]:
            raise DatasetIntegrityError(
                f"{folder}: {relative} does not match its sha256 in the manifest (its content "
                f"changed since the build). {REBUILD_HINT}"
            )
        verified[relative] = stamp
    if cache:
        _remember_verified(folder, verified, known)


def read_statistics(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """Statistics saved as `<folder>/<variable folder>/{mean,std,min,max}.npy`, refusing
    non-finite ones (`check_finite`)."""
    paths = {
        name: {stat: Path(folder) / sub / f"{stat}.npy" for stat in STATISTICS}
        for name, sub in FOLDERS.items()
    }
    return {
        name: {stat: check_finite(load_array(path), path) for stat, path in files.items()}
        for name, files in paths.items()
    }


def check_finite(values: np.ndarray, path: Path) -> np.ndarray:
    """``values`` read from ``path``, refusing NaN or infinities; returns ``values``."""
    finite = np.isfinite(values)
    if not finite.all():
        raise DatasetIntegrityError(
            f"{path} holds {finite.size - int(finite.sum())} non-finite value(s) (NaN or "
            f"infinity); the dataset is damaged or was edited. {REBUILD_HINT}"
        )
    return values


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on the dataset root `root` (a directory) while building into it.

    A second build of the same root waits, saying which process holds the lock. The lock is a
    `flock` on the directory itself: nothing is written, and a killed build releases it.
    """
    handle = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning(
                "another build (%s) is running in %s; waiting for it to finish (stop that "
                "process if it hangs)",
                _lock_holder(root),
                root,
            )
            fcntl.flock(handle, fcntl.LOCK_EX)
            log.warning("the other build in %s finished; continuing", root)
        yield
    finally:
        os.close(handle)


def load_array(path: Path, mmap: bool = False) -> np.ndarray:
    """Read one .npy file of a dataset, never unpickling; unreadable files name the rebuild."""
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DatasetIntegrityError(
            f"{path} is not a plain numeric .npy array ({error}); the dataset is damaged or was "
            f"tampered with. {REBUILD_HINT}"
        ) from None


def _is_record(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("bytes"), int)
        and isinstance(record.get("sha256"), str)
    )


def _stamp(path: Path, record: dict[str, Any]) -> list[Any]:
    """What `.verified.json` remembers of a file: size, mtime (ns) and the sha256 it matched."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, record["sha256"]]


def _read_verified(folder: Path) -> dict[str, list[Any]]:
    try:
        known = json.loads((folder / VERIFIED).read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def _remember_verified(
    folder: Path, stamps: dict[str, list[Any]], known: dict[str, list[Any]] | None = None
) -> None:
    """Write the trusted stamps to `.verified.json` (atomically) if they changed."""
    recent = time.time_ns() - RACY_NS
    trusted = {rel: stamp for rel, stamp in stamps.items() if stamp[1] < recent}
    if trusted == known:
        return
    try:
        write_json_atomic(folder / VERIFIED, trusted)
    except OSError as error:
        log.debug("cannot remember the verified files of %s: %s", folder, error)


def _lock_holder(root: Path) -> str:
    """'pid N' of the process holding the flock on `root` (from /proc/locks), if known."""
    stat = os.stat(root)
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return "pid unknown"
    for line in lines:
        fields = line.split()
        if "->" not in fields and len(fields) >= 6 and fields[5] == device:
            return f"pid {fields[4]}"
    return "pid unknown"


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
