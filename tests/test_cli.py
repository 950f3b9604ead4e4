"""The ``brainenc`` console script: installed, lists its subcommands, hands arguments over."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from brainenc.cli import SUBCOMMANDS, main

EXPECTED = ("insilico", "build", "train", "evaluate", "baseline", "report")


def test_console_script_lists_every_subcommand() -> None:
    script = Path(sys.executable).with_name("brainenc")
    assert script.is_file(), "pyproject.toml's [project.scripts] was not installed"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    listed = [line.split()[0] for line in result.stdout.split("subcommands:\n")[1].splitlines()[:6]]
    assert listed == list(EXPECTED)
    assert tuple(SUBCOMMANDS) == EXPECTED


def test_every_subcommand_module_has_a_main() -> None:
    import importlib

    for module, _ in SUBCOMMANDS.values():
        assert callable(importlib.import_module(module).main), module


def test_subcommand_receives_its_arguments(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["brainenc"])
    with pytest.raises(SystemExit) as stopped:
        main(["report", "--help"])
    assert stopped.value.code == 0
    assert "run or multirun directories" in capsys.readouterr().out


def test_unknown_or_missing_subcommand_is_refused(capsys) -> None:
    assert main(["fit"]) == 2
    assert "unknown subcommand 'fit'" in capsys.readouterr().err
    assert main([]) == 2


def test_hydra_subcommand_runs_with_the_packaged_configs(tmp_path: Path) -> None:
    """``brainenc build`` outside the checkout finds build.yaml through the package."""
    result = subprocess.run(
        [sys.executable, "-m", "brainenc", "build", "--cfg", "job", "data=insilico_test"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert "build:" in result.stdout and "insilico:" in result.stdout
