"""`python -m brainenc.data.build` end to end, and a build killed while it writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from brainenc.data.mouse_folder import read_manifest, verify_folder
from brainenc.data.writer import sweep_stale


def build_command(root_dir, *overrides) -> list[str]:
    return [sys.executable, "-m", "brainenc.data.build", f"paths.root_dir={root_dir}", *overrides]


def test_build_command_prints_the_counts(insilico_cache, tmp_path):
    command = build_command(
        tmp_path, "data=insilico_test", f"data.build.cache_dir={insilico_cache}"
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    root = tmp_path / "outputs" / "datasets" / "insilico_test_realistic_seed0_seed"
    assert sorted(p.name for p in root.iterdir()) == ["501729039", "501773889"]
    assert (
        f"{root / '501729039'}: 35 train (natural_movie_one 14, natural_movie_three 21), "
        "5 validation (natural_movie_one 2, natural_movie_three 3), "
        "10 test (natural_movie_one 4, natural_movie_three 6); 20 neurons"
    ) in result.stdout


@pytest.mark.slow
def test_build_killed_while_writing_leaves_no_dataset(make_insilico_session, tmp_path):
    path = make_insilico_session(
        "full_length", natural_movie_one_frames=900, natural_movie_three_frames=3600, n_neurons=8
    )
    root = tmp_path / "outputs" / "datasets" / "nwb_seed"
    mice = f"data.build.mice={{A:[{path}]}}"
    first = subprocess.run(
        build_command(tmp_path, "data=nwb", mice), capture_output=True, text=True, timeout=600
    )
    assert first.returncode == 0, first.stderr[-3000:]
    before = (root / "A" / "manifest.json").read_text()
    command = build_command(
        tmp_path, "data=nwb", mice, "data.build.overwrite=true", "data.build.figures=false"
    )
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            temporary = [p for p in root.iterdir() if ".tmp-" in p.name]
            if temporary and any((temporary[0] / "data" / "responses").glob("*.npy")):
                os.kill(process.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    assert (root / "A" / "manifest.json").read_text() == before
    verify_folder(root / "A", read_manifest(root / "A"), full=True)
    assert [p.name for p in sweep_stale(root)][0].startswith(".A.tmp-")
    assert sorted(p.name for p in root.iterdir()) == ["A"]
