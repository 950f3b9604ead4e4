"""The comparison report built from synthetic run directories in the contract layout."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from brainenc.evaluation.comparison import write_report
from brainenc.evaluation.run_dirs import find_runs, read_metric_history
from brainenc.report import main

LORA_CONFIG = {
    "peft": {"name": "lora8_fused", "r": 8, "lora_alpha": 16, "target_modules": ["fused_linear"]},
    "optim": {"name": "cosine", "optimizer": {"lr": 0.001}},
    "trainer": {"max_epochs": 60},
}
HEAD_CONFIG = {
    "peft": {"name": "head_only"},
    "optim": {"name": "cosine", "optimizer": {"lr": 0.001}},
    "trainer": {"max_epochs": 40},
}
ALL_CONFIG = {
    "peft": {
        "name": "lora16_all",
        "r": 16,
        "lora_alpha": 32,
        "target_modules": ["fused_linear", "attn_out", "ff_out.2"],
    },
    "optim": {"name": "linear", "optimizer": {"lr": 0.0036}},
}


def metrics(val: float, test: float, baseline: float | None = 0.0235) -> dict:
    return {
        "val/corr": val,
        "test/corr": test,
        "test/corr/A": test,
        "baseline/test/corr": baseline,
        "best_epoch": 3,
        "epochs": 25,
        "checkpoint": "checkpoints/best.ckpt",
        "definitions": {},
    }


@pytest.fixture
def multirun(tmp_path: Path, run_dir_factory) -> Path:
    root = tmp_path / "multirun" / "2025-01-01" / "12-00-00"
    run_dir_factory(
        root / "0",
        HEAD_CONFIG,
        metrics(0.015, 0.0178),
        {"trainable_percent": 0.91},
        val_curve=[0.0, 0.01, 0.015],
    )
    run_dir_factory(
        root / "1",
        LORA_CONFIG,
        metrics(0.035, 0.042),
        {"trainable_percent": 3.8},
        val_curve=[0.0, 0.02, 0.035, 0.03],
    )
    return root


def parse_markdown(table: str) -> list[list[str]]:
    lines = [line for line in table.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_report_table_from_two_runs(multirun: Path, tmp_path: Path) -> None:
    files = write_report([multirun], tmp_path / "report")
    rows = parse_markdown(files.table)
    assert rows[0] == [
        "1 ★",
        "1",
        "8",
        "16",
        "fused",
        "0.001",
        "cosine",
        "25",
        "3.80",
        "0.0350",
        "0.0420",
        "0.0235",
        "+0.0185",
    ]
    assert rows[1] == [
        "2",
        "0",
        "–",
        "–",
        "head_only",
        "0.001",
        "cosine",
        "25",
        "0.91",
        "0.0150",
        "0.0178",
        "0.0235",
        "-0.0057",
    ]
    assert files.table in files.markdown.read_text()
    records = list(csv.DictReader(io.StringIO(files.csv.read_text())))
    assert [r["run"] for r in records] == ["1", "0"]
    assert records[0]["best"] == "True" and records[1]["best"] == "False"
    assert float(records[0]["gain"]) == pytest.approx(0.042 - 0.0235)
    assert records[1]["lora_rank"] == ""
    assert files.curves.stat().st_size > 10_000


def test_report_tolerates_absent_keys_and_unseen_clips(tmp_path: Path, run_dir_factory) -> None:
    no_baseline = metrics(0.03, 0.031, baseline=None)
    no_baseline["baseline/test/reason"] = "clips unseen in training"
    run_a = run_dir_factory(tmp_path / "by_clip", ALL_CONFIG, no_baseline)
    run_b = run_dir_factory(tmp_path / "crashed", HEAD_CONFIG, None)
    files = write_report([run_b, run_a], tmp_path / "out")
    rows = parse_markdown(files.table)
    assert rows[0][:8] == ["1 ★", "by_clip", "16", "32", "all", "0.0036", "linear", "25"]
    assert rows[0][8] == "–"
    assert rows[0][11:] == ["n/a (clips unseen in training)", "–"]
    assert rows[1] == [
        "2",
        "crashed",
        "–",
        "–",
        "head_only",
        "0.001",
        "cosine",
        "40",
        "–",
        "–",
        "–",
        "–",
        "–",
    ]
    assert files.curves is None


def test_metric_history_is_averaged_per_epoch(multirun: Path) -> None:
    history = read_metric_history(multirun / "1")
    epochs, values = history["val/corr"]
    assert epochs.tolist() == [0, 1, 2, 3]
    assert values.tolist() == [0.0, 0.02, 0.035, 0.03]
    assert history["train/loss"][1][1] == pytest.approx((0.5 + 0.45) / 2)


def test_find_runs_and_cli(multirun: Path, tmp_path: Path, capsys) -> None:
    assert [p.name for p in find_runs([multirun.parent.parent])] == ["0", "1"]
    assert main([str(multirun), "--out", str(tmp_path / "cli")]) == 0
    out = capsys.readouterr().out
    assert "| 1 ★ | 1 | 8 |" in out and (tmp_path / "cli" / "comparison.csv").is_file()
    assert main([str(tmp_path / "cli")]) == 1
    assert "contains no run directories" in capsys.readouterr().err


def test_report_warns_when_runs_come_from_different_datasets(tmp_path: Path, run_dir_factory):
    root = tmp_path / "runs"
    for name, dataset in (("a", "/data/insilico_demo_seed"), ("b", "/data/insilico_demo_viv1t")):
        config = {**HEAD_CONFIG, "data": {"root": dataset}}
        run_dir_factory(root / name, config, metrics(0.1, 0.1), {"trainable_percent": 1.0})
    files = write_report([root], tmp_path / "out")
    assert files.warning is not None and "2 different datasets" in files.warning
    assert "/data/insilico_demo_seed: a" in files.warning
    assert files.warning in files.markdown.read_text()
    same = tmp_path / "same"
    for name in ("a", "b"):
        config = {**HEAD_CONFIG, "data": {"root": "/data/x"}}
        run_dir_factory(same / name, config, metrics(0.1, 0.1), {"trainable_percent": 1.0})
    assert write_report([same], tmp_path / "out2").warning is None
