"""Who may write into a run folder.

* :func:`lock_run_folder`: an exclusive ``fcntl.flock`` lock on ``<run_dir>/.brainenc.lock``,
  held while a process writes into the folder (training, ``python -m brainenc.evaluate``). The
  file holds the holder's process id; a second process gets :class:`RunFolderBusyError` naming
  the folder and that id. The kernel drops the lock when the holder dies, so a killed run never
  leaves the folder locked; a clean release removes the file.
* :func:`claim_run_folder`: the start of ``train(cfg)``. Besides the lock it refuses to write
  into a folder that holds a run already, finished (``metrics.json``) or not (checkpoints or a
  CSV log), unless ``ckpt_path`` resumes that run from a checkpoint inside the folder.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from brainenc.atomic_files import check_writable
from brainenc.runs.folder import (
    CHECKPOINT_FOLDER,
    CSV_LOG,
    CSV_LOG_FOLDER,
    INTERRUPTED_CHECKPOINT,
    LAST_CHECKPOINT,
    LOCK_FILE,
    METRICS,
    checkpoint_file,
)

FINISHED_MARKER = METRICS
# Files whose presence marks a run that trained (a checkpoint or logged metrics).
RUN_FILE_PATTERNS = (f"{CHECKPOINT_FOLDER}/*.ckpt", f"{CSV_LOG_FOLDER}/**/{CSV_LOG}")
RESUMABLE = (INTERRUPTED_CHECKPOINT, LAST_CHECKPOINT)


class RunFolderBusyError(RuntimeError):
    """Another process writes into the run folder (the message names it and its pid)."""


class RunFolderLock:
    """A held run-folder lock; :meth:`release` (or leaving the ``with`` block) frees it.

    ``RunFolderLock()`` without arguments holds nothing: what DDP ranks other than zero get,
    since rank zero holds the folder for the whole job.
    """

    def __init__(self, path: Path | None = None, handle: int | None = None) -> None:
        self.path = path
        self._handle = handle

    def release(self) -> None:
        """Remove the lock file and free the lock (idempotent)."""
        if self._handle is None:
            return
        assert self.path is not None
        self.path.unlink(missing_ok=True)  # while still locked: no other process holds it
        os.close(self._handle)
        self._handle = None

    def __enter__(self) -> RunFolderLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _holder(handle: int) -> str:
    text = os.pread(handle, 32, 0).decode(errors="replace").strip()
    return f"process {text}" if text.isdigit() else "another process"


def lock_run_folder(run_dir: str | Path, setting: str = "paths.output_dir") -> RunFolderLock:
    """Take the run folder's lock, creating the folder if needed (see module docstring).

    Parameters
    ----------
    run_dir
        The run folder.
    setting
        The setting or argument that chose the folder, named in errors.

    Raises
    ------
    brainenc.atomic_files.UnwritableFolderError
        When the folder cannot be written.
    RunFolderBusyError
        When another process holds the lock.
    """
    run_dir = Path(run_dir)
    check_writable(run_dir, setting)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            os.close(handle)
            raise RunFolderBusyError(
                f"{run_dir} ({setting}) is in use by {holder} (lock file {path}). Wait for it "
                f"to finish, or point {setting} at another folder."
            ) from None
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(handle).st_ino:
            break
        os.close(handle)  # the previous holder removed this file while we waited: try again
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
    return RunFolderLock(path, handle)


def run_files(run_dir: Path) -> list[Path]:
    """The files of a run that trained in ``run_dir`` (checkpoints, CSV metrics), if any."""
    return sorted(p for pattern in RUN_FILE_PATTERNS for p in run_dir.glob(pattern))


def _resume_hint(run_dir: Path) -> str:
    candidates = [checkpoint_file(run_dir, name) for name in RESUMABLE]
    existing = [p for p in candidates if p.is_file()]
    if not existing:
        return "Choose another hydra.run.dir (paths.output_dir)"
    newest = max(existing, key=lambda p: p.stat().st_mtime)
    return f"Resume it with ckpt_path={newest}, or choose another hydra.run.dir (paths.output_dir)"


def claim_run_folder(run_dir: str | Path, ckpt_path: str | Path | None = None) -> RunFolderLock:
    """Lock the run folder of a starting training run and refuse to overwrite another run.

    Parameters
    ----------
    run_dir
        ``paths.output_dir`` of the run.
    ckpt_path
        The checkpoint the run resumes from, if any; a folder that holds a run is reused only
        when this points inside it.

    Raises
    ------
    FileExistsError
        When the folder holds a finished or unfinished run that ``ckpt_path`` does not resume.
    RunFolderBusyError, brainenc.atomic_files.UnwritableFolderError
        See :func:`lock_run_folder`.
    """
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    if getattr(rank_zero_only, "rank", 0) != 0:
        return RunFolderLock()  # rank zero holds the folder and checked it
    run_dir = Path(run_dir)
    lock = lock_run_folder(run_dir)
    resumes_here = ckpt_path is not None and Path(ckpt_path).resolve().is_relative_to(
        run_dir.resolve()
    )
    finished = run_dir / FINISHED_MARKER
    problem = None
    if finished.exists() and not resumes_here:
        problem = (
            f"{run_dir} already holds a finished run ({finished.name}); brainenc never "
            "overwrites one. Choose another hydra.run.dir (paths.output_dir), or resume it with "
            "ckpt_path=<a checkpoint in that folder>."
        )
    elif not finished.exists() and not resumes_here and (found := run_files(run_dir)):
        shown = ", ".join(p.relative_to(run_dir).as_posix() for p in found[:4])
        problem = (
            f"{run_dir} holds an unfinished run ({shown}; no {FINISHED_MARKER}); a new run "
            f"there would overwrite its checkpoints and log. {_resume_hint(run_dir)}."
        )
    if problem is not None:
        lock.release()
        raise FileExistsError(problem)
    return lock
