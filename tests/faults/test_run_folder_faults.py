"""A run folder is data, and a run never damages another.

* Code execution: an edited ``config_resolved.yaml`` cannot make ``python -m brainenc.evaluate``
  import or call anything beyond the allow-list of ``brainenc.runs.stored_config``.
* Data lost: a new run refuses a folder holding another run (finished or not) and a folder another
  process writes to; checkpoints are written whole or not at all, a full disk is reported with
  the file and the bytes it needs, and the previous checkpoint stays intact.
* Raw tracebacks: a read-only output folder, and a ``ckpt_path`` / ``continue_from`` of another
  shape, fail at once with a message naming the folder or setting.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from fault_helpers import folder_snapshot
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from test_checkpoint_faults import CreatesMarker, build
from test_run_faults import compose_run, quick_overrides

from brainenc.atomic_files import (
    DiskFullError,
    UnwritableFolderError,
    atomic_destination,
    write_bytes_atomic,
)
from brainenc.conf import CONFIG_DIR as CONF_DIR
from brainenc.data import BrainDataModule
from brainenc.evaluate import main as evaluate_main
from brainenc.models import ViV1T
from brainenc.runs.checkpoints import AtomicCheckpointIO, ResumeCheck
from brainenc.runs.folder import LOCK_FILE
from brainenc.runs.lock import RunFolderBusyError, claim_run_folder, lock_run_folder
from brainenc.runs.stored_config import build_stored
from brainenc.training import train
from brainenc.training.initial_weights import load_continuation


def stored_config(tmp_path: Path) -> dict:
    """What training writes as ``config_resolved.yaml`` (tiny model, in-silico data), as data."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose(
            "train", overrides=["model=tiny", "data=insilico_test", f"paths.root_dir={tmp_path}"]
        )
    return {key: OmegaConf.to_container(cfg[key], resolve=True) for key in ("model", "data")}


def write_run(folder: Path, config: dict) -> Path:
    """A finished run folder holding ``config`` and a placeholder ``export/model.pt``."""
    (folder / "export").mkdir(parents=True)
    (folder / "export" / "model.pt").write_bytes(b"weights")
    (folder / "config_resolved.yaml").write_text(yaml.safe_dump(config))
    (folder / "metrics.json").write_text("{}")
    return folder


# --- code execution -------------------------------------------------------------------------


def test_the_stored_config_builds_the_model_and_data(tmp_path):
    config = stored_config(tmp_path)
    datamodule, build_model = build_stored(
        config, tmp_path / "config_resolved.yaml", "data", "model"
    )
    assert isinstance(datamodule, BrainDataModule)
    assert build_model.func is ViV1T


def pickle_payload(tmp_path: Path) -> tuple[Path, Path]:
    marker, payload = tmp_path / "executed", tmp_path / "payload.pt"
    torch.save(CreatesMarker(marker), payload)
    return marker, payload


def test_the_payload_would_run_through_hydra(tmp_path):
    marker, payload = pickle_payload(tmp_path)
    instantiate({"_target_": "torch.load", "f": str(payload), "weights_only": False})
    assert marker.exists()  # so the refusals below prove something


EDITS: dict[str, tuple[Callable[[dict, Path], None], str]] = {
    "torch-load-pickle": (
        lambda c, t: c.update(
            model={"_target_": "torch.load", "f": str(t / "payload.pt"), "weights_only": False}
        ),
        r"model\._target_ is 'torch\.load'",
    ),
    "copyfile-as-data": (
        lambda c, t: c.update(
            data={"_target_": "shutil.copyfile", "src": str(t / "secret"), "dst": str(t / "out")}
        ),
        r"data\._target_ is 'shutil\.copyfile'",
    ),
    "nested-target": (
        lambda c, t: c["data"]["build"].update(
            hook={"_target_": "shutil.copyfile", "src": str(t / "secret"), "dst": str(t / "out")}
        ),
        r"data\.build\.hook names _target_='shutil\.copyfile'",
    ),
    "core-target": (
        lambda c, t: c["model"]["core"].update(_target_="os.system"),
        r"model\.core\._target_ is 'os\.system'",
    ),
    "positional-args": (
        lambda c, t: c["data"].update(_args_=[str(t / "secret")]),
        r"data\._args_ is set",
    ),
    "interpolation": (
        lambda c, t: c["data"].update(root="${oc.env:HOME}"),
        r"data\.root holds the interpolation",
    ),
    "model-not-partial": (
        lambda c, t: c["model"].update(_partial_=False),
        r"model\._partial_ is False",
    ),
}


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_edited_run_config_runs_no_code(edit, tmp_path, capsys):
    marker, _ = pickle_payload(tmp_path)
    (tmp_path / "secret").write_text("secret")
    config = stored_config(tmp_path)
    change, message = EDITS[edit]
    change(config, tmp_path)
    run = write_run(tmp_path / "run", config)
    before = folder_snapshot(run)
    assert evaluate_main([str(run)]) == 1
    error = capsys.readouterr().err
    assert str(run / "config_resolved.yaml") in error
    assert re.search(message, error), error
    assert "Traceback" not in error
    assert not marker.exists() and not (tmp_path / "out").exists()
    assert folder_snapshot(run) == before  # no evaluation/, no lock file left


# --- data lost: reusing run folders ---------------------------------------------------------


@pytest.fixture
def quick(tmp_path, insilico_cache) -> Callable[..., object]:
    """``quick(run_dir, *overrides)``: a tiny training config writing into ``run_dir``."""
    return lambda run_dir, *extra: compose_run(
        [*quick_overrides(tmp_path, insilico_cache), "data=insilico_test", *extra], run_dir
    )


def unfinished_run(folder: Path) -> Path:
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "csv").mkdir()
    for name in ("best.ckpt", "last.ckpt", "interrupted.ckpt"):
        (folder / "checkpoints" / name).write_bytes(name.encode())
    (folder / "csv" / "metrics.csv").write_text("epoch,step,val/corr\n0,3,0.1\n")
    return folder


@pytest.mark.parametrize("resume_from", [None, "elsewhere"], ids=["new-run", "foreign-ckpt"])
def test_unfinished_run_folder_is_not_overwritten(resume_from, quick, tmp_path):
    run = unfinished_run(tmp_path / "run")
    before = folder_snapshot(run)
    extra = []
    if resume_from:
        other = unfinished_run(tmp_path / resume_from)
        extra = [f"ckpt_path={other / 'checkpoints' / 'last.ckpt'}"]
    with pytest.raises(FileExistsError, match=rf"{run} holds an unfinished run.*ckpt_path={run}"):
        train(quick(run, *extra))
    assert folder_snapshot(run) == before
    assert not (tmp_path / "datasets").exists()


def test_finished_run_folder_refuses_a_foreign_checkpoint(quick, tmp_path):
    run = write_run(tmp_path / "run", {})
    other = unfinished_run(tmp_path / "other")
    before = folder_snapshot(run)
    with pytest.raises(FileExistsError, match=rf"{run} already holds a finished run"):
        train(quick(run, f"ckpt_path={other / 'checkpoints' / 'last.ckpt'}"))
    assert folder_snapshot(run) == before


def test_a_run_may_resume_from_its_own_checkpoint(tmp_path):
    run = unfinished_run(tmp_path / "run")
    with claim_run_folder(run, run / "checkpoints" / "interrupted.ckpt") as lock:
        assert lock.path == run / LOCK_FILE and lock.path.read_text() == f"{os.getpid()}\n"
    assert not (run / LOCK_FILE).exists()


def test_run_folder_in_use_by_another_process_is_refused(quick, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            "f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX)\n"
            "f.write(f'{os.getpid()}\\n'); f.flush(); print('locked', flush=True)\n"
            "sys.stdin.read()\n",
            str(run / LOCK_FILE),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderBusyError, match=rf"{run} .*in use by process {holder.pid}"):
            train(quick(run))
        assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]
    finally:
        holder.communicate("", timeout=30)
    with lock_run_folder(run):  # free again once the holder exited
        pass


def test_lock_is_exclusive_and_released(tmp_path):
    with lock_run_folder(tmp_path / "run"):
        with pytest.raises(RunFolderBusyError, match=f"process {os.getpid()}"):
            lock_run_folder(tmp_path / "run")
    with lock_run_folder(tmp_path / "run"):
        pass
    assert not (tmp_path / "run" / LOCK_FILE).exists()


# --- data lost: checkpoints on a full disk ---------------------------------------------------


@pytest.fixture
def full_disk(monkeypatch) -> Callable[[Path, int], None]:
    """``full_disk(folder, free)``: writes into ``folder`` fail with ENOSPC after ``free`` bytes."""
    real_write = os.write

    def install(folder: Path, free: int) -> None:
        left = [free]

        def write(handle: int, data) -> int:
            try:
                target = os.readlink(f"/proc/self/fd/{handle}")
            except OSError:
                target = ""
            if not target.startswith(str(folder)):
                return real_write(handle, data)
            if left[0] <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written = real_write(handle, bytes(data[: left[0]]))
            left[0] -= written
            return written

        monkeypatch.setattr(os, "write", write)

    return install


def test_full_disk_keeps_the_previous_checkpoint(full_disk, tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.zeros(4)}, "global_step": 3}, path)
    before = path.read_bytes()
    big = {"state_dict": {"w": torch.zeros(100_000)}, "global_step": 6}
    full_disk(path.parent, 1000)
    with pytest.raises(DiskFullError, match=rf"{path}: no space left.*needs 4\d\d,\d\d\d bytes"):
        io.save_checkpoint(big, path)
    assert path.read_bytes() == before
    assert torch.load(path, weights_only=True)["global_step"] == 3
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]


def test_full_disk_in_a_named_file_writer_names_the_file(full_disk, tmp_path):
    path = tmp_path / "core.pt"
    write_bytes_atomic(path, b"old")
    full_disk(tmp_path, 10)
    with pytest.raises(DiskFullError, match=rf"{path}: no space left.*at least 10 bytes"):
        with atomic_destination(path) as temporary:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT)
            try:
                for _ in range(2):  # as a writer given a file name would
                    os.write(handle, bytes(500))
            finally:
                os.close(handle)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["core.pt"]


def test_trainer_writes_checkpoints_atomically(tmp_path):
    from brainenc.training.trainer_setup import build_trainer as _build_trainer

    cfg = compose_run(["trainer=cpu", "logger=none"], tmp_path / "run")
    trainer = _build_trainer(cfg, [], 1)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


# --- raw tracebacks ---------------------------------------------------------------------------


@pytest.fixture
def read_only(monkeypatch) -> Callable[[Path], None]:
    """``read_only(folder)``: creating files or folders inside ``folder`` fails with EROFS (as on
    a read-only mount; a chmod alone does not stop root)."""
    real_open, real_mkdir = os.open, os.mkdir

    def install(folder: Path) -> None:
        def refuse(path) -> None:
            if str(os.fspath(path)).startswith(str(folder)):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

        def open_(path, flags, *args, **kwargs):
            if flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR):
                refuse(path)
            return real_open(path, flags, *args, **kwargs)

        def mkdir(path, *args, **kwargs):
            refuse(path)
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", open_)
        monkeypatch.setattr(os, "mkdir", mkdir)

    return install


def test_read_only_output_folder_fails_before_any_work(read_only, quick, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    read_only(run)
    with pytest.raises(
        UnwritableFolderError, match=rf"{run} \(paths\.output_dir\) is not writable"
    ):
        train(quick(run))
    assert not list(run.iterdir()) and not (tmp_path / "datasets").exists()


def test_read_only_run_folder_fails_evaluate_before_predicting(read_only, tmp_path, capsys):
    run = write_run(tmp_path / "run", stored_config(tmp_path))
    read_only(run)
    assert evaluate_main([str(run), "--predictions", str(tmp_path / "absent.npz")]) == 1
    error = capsys.readouterr().err
    assert f"{run / 'evaluation'} (RUN_DIR) is not writable" in error and "Traceback" not in error


def test_read_only_report_folder_is_named_not_raised(read_only, tmp_path, capsys):
    from brainenc.report import main as report_main

    run = write_run(tmp_path / "run", stored_config(tmp_path))
    out = tmp_path / "report"
    out.mkdir()
    read_only(out)
    assert report_main([str(run), "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert f"{out} (--out) is not writable" in error and "Traceback" not in error
    assert not list(out.iterdir())


def lightning_checkpoint(model: torch.nn.Module, path: Path) -> Path:
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, path)
    return path


class Module(torch.nn.Module):
    """Holds a model under ``model`` as EncodingModule does."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model


@pytest.mark.parametrize(
    ("other", "message"),
    [
        ({"neurons": {"A": 9}, "core": {"emb_dim": 24}}, r"model\.core\..*\(.*24.*\) in the file"),
        ({"neurons": {"A": 12}, "core": {}}, r"model\.readouts\.A\..* in the file"),
        ({"neurons": {"B": 9}, "core": {}}, r"missing \['model\.readouts\.A"),
    ],
    ids=["wider-core", "more-neurons", "other-mouse"],
)
def test_resume_checkpoint_of_another_shape_names_the_entries(other, message, tmp_path):
    checkpoint = lightning_checkpoint(
        build("tiny", other["neurons"], **other["core"]), tmp_path / "last.ckpt"
    )
    module = Module(build("tiny", {"A": 9}))
    with pytest.raises(ValueError, match=rf"ckpt_path={checkpoint}: .*does not fit.*{message}"):
        ResumeCheck(checkpoint).setup(None, module, "fit")


def test_damaged_resume_checkpoint_names_the_file(tmp_path):
    checkpoint = lightning_checkpoint(build("tiny", {"A": 9}), tmp_path / "last.ckpt")
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(ValueError, match=rf"ckpt_path={checkpoint}: cannot read.*damaged"):
        ResumeCheck(checkpoint).setup(None, Module(build("tiny", {"A": 9})), "fit")


def test_continue_from_of_another_shape_names_the_entries(tmp_path):
    checkpoint = lightning_checkpoint(build("tiny", {"A": 12}), tmp_path / "best.ckpt")
    with pytest.raises(ValueError, match=rf"continue_from={checkpoint}: .*readouts\.A\..*\(.*12"):
        load_continuation(build("tiny", {"A": 9}), checkpoint)


@pytest.mark.slow
def test_real_run_evaluates_and_refuses_a_wrong_shape_resume(quick, tmp_path):
    train(quick(tmp_path / "first", "evaluation.test=false"))
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    assert last.is_file() and not list(last.parent.glob(".*.tmp"))
    assert evaluate_main([str(tmp_path / "first"), "--split", "validation"]) == 0
    assert (tmp_path / "first" / "evaluation" / "metrics.json").is_file()
    assert not (tmp_path / "first" / LOCK_FILE).exists()
    wider = quick(tmp_path / "wider", f"ckpt_path={last}", "model.core.emb_dim=24")
    with pytest.raises(ValueError, match=rf"ckpt_path={last}: .*does not fit.*24.*in the file"):
        train(wider)
    assert not list((tmp_path / "wider").glob("checkpoints/*.ckpt"))
    assert not (tmp_path / "wider" / LOCK_FILE).exists()
