"""``python -m brainenc.insilico``: writes a cache directory, rejects bad settings clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from brainenc.insilico.__main__ import main

SMALL = [
    "--set",
    "n_neurons=3",
    "--set",
    "natural_movie_one_frames=30",
    "--set",
    "natural_movie_three_frames=30",
    "--set",
    "drifting_grating_trials=3",
]


def test_cli_writes_a_complete_cache(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cache"
    assert (
        main(
            [
                "--out",
                str(out),
                "--scale",
                "test",
                "--mice",
                "A,B",
                "--seed",
                "4",
                *SMALL,
                "--set",
                "B.eye_tracking=false",
            ]
        )
        == 0
    )
    records = json.loads((out / "ophys_experiments.json").read_text())
    assert [r["id"] for r in records] == [501729039, 501773889]
    assert [
        r["attachable_id"] for r in json.loads((out / "eye_mapping_files.json").read_text())
    ] == [610491688]
    for record in records:
        nwb = out / "ophys_experiment_data" / f"{record['id']}.nwb"
        truth = np.load(nwb.with_name(f"{record['id']}.truth.npz"))
        assert nwb.is_file() and truth["truth"].shape[0] == 3
        assert json.loads(str(truth["config_json"]))["seed"] == 4
    assert (out / "manifest.json").is_file()
    assert "mouse B: experiment 501773889, 3 neurons" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "huge"], "unknown scale 'huge'"),
        (["--mice", "A,Q"], "unknown mouse 'Q'"),
        (["--profile", "noisy"], "unknown profile 'noisy'"),
        (["--set", "natural_movie_one_repeats=0"], "natural_movie_one_repeats"),
        (["--set", "noise_std=-1"], "noise_std"),
        (["--set", "colour=red"], "bad override 'colour=red'"),
    ],
    ids=["scale", "mouse", "profile", "repeats", "noise", "unknown-setting"],
)
def test_cli_rejects_bad_settings_before_writing(tmp_path: Path, capsys, args, message) -> None:
    assert main(["--out", str(tmp_path / "cache"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()


def test_cli_profile_selects_the_activity_settings(tmp_path: Path) -> None:
    out = tmp_path / "clean"
    args = ["--out", str(out), "--scale", "test", "--mice", "A", "--profile", "clean", *SMALL]
    assert main(args) == 0
    truth = np.load(out / "ophys_experiment_data" / "501729039.truth.npz")
    settings = json.loads(str(truth["config_json"]))
    assert (settings["latent_sd"], settings["responsive_fraction"]) == (0.0, 1.0)
    assert truth["population_responsive"].all()


@pytest.mark.slow
def test_module_entry_point_runs_as_a_subprocess(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "brainenc.insilico",
            "--out",
            str(tmp_path),
            "--scale",
            "test",
            "--mice",
            "C",
            *SMALL,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ophys_experiment_data" / "501794235.nwb").is_file()
