"""``python -m brainenc.report`` on two real training runs (head-only and LoRA) in one sweep folder.

The runs go through ``brainenc.training.train`` with configs composed from ``conf/`` (tiny test
model, tiny in-silico mouse, one epoch of two batches), so the report reads the files training
really writes rather than fixtures in the contract layout.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from training_helpers import TEST_MODEL, build_model, compose_config

from brainenc.evaluation.comparison import TIE_TOLERANCE
from brainenc.models import save_checkpoint
from brainenc.report import main as report_main
from brainenc.training import train

RUNS = {  # job folder -> overrides, as a Hydra multirun would number them
    "0": ["peft=head_only", "optim.optimizer.lr=0.003"],
    "1": ["peft=lora8_fused", "optim.optimizer.lr=0.0005"],
}


@pytest.fixture(scope="module")
def sweep(
    tmp_path_factory: pytest.TempPathFactory,
    insilico_cache: Path,
    monkeypatch_module: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """Two runs trained once; returns their sweep folder ``<tmp>/multirun/<date>/<time>``."""
    root = tmp_path_factory.mktemp("real_runs")
    core = save_checkpoint(
        build_model("test", {"X": 5, "Y": 4}, seed=123), root / "core.pt", epoch=3, value=0.1
    )
    common = [
        f"paths.root_dir={root}",
        f"paths.dataset_dir={root / 'datasets'}",
        "data=insilico_test",
        f"data.build.cache_dir={insilico_cache}",
        "+data.build.mice={A:[501729039]}",
        "data.batch_size=8",
        *TEST_MODEL,
        f"pretrained.path={core}",
        "trainer=cpu",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        "trainer.log_every_n_steps=1",
        "logger=csv",
        "callbacks.progress_bar.refresh_rate=0",
        "trainer.enable_model_summary=false",
        "evaluation.initial=false",
    ]
    sweep_dir = root / "multirun" / "2025-01-01" / "12-00-00"
    try:
        for job, overrides in RUNS.items():
            train(compose_config([*common, *overrides], sweep_dir / job))
    finally:
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None
    yield sweep_dir


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    """No wandb for the module's runs (logger=csv anyway)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("WANDB_API_KEY", raising=False)
        patch.delenv("WANDB_MODE", raising=False)
        yield patch


def run_files(run_dir: Path) -> tuple[dict, dict, dict]:
    config = yaml.safe_load((run_dir / "config_resolved.yaml").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    trainable = json.loads((run_dir / "trainable.json").read_text())
    return config, metrics, trainable


def number(text: str) -> float | None:
    return None if text == "" else float(text)


@pytest.fixture(scope="module")
def report(sweep: Path) -> tuple[Path, list[dict[str, str]], str]:
    out = sweep.parents[2] / "report"
    assert report_main([str(sweep.parents[1]), "--out", str(out)]) == 0
    with (out / "comparison.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    return out, rows, (out / "comparison.md").read_text()


def test_report_writes_one_row_per_run_sorted_by_validation(report, sweep: Path) -> None:
    out, rows, markdown = report
    assert sorted(row["run"] for row in rows) == sorted(RUNS)  # named relative to the sweep
    validation = [float(row["val_corr"]) for row in rows]
    assert validation == sorted(validation, reverse=True)
    lines = [line for line in markdown.splitlines() if line.startswith("| ")][1:]
    table_rows = [line for line in lines if not line.startswith("| ref |")]
    assert len(table_rows) == 2 and "★" not in table_rows[1]
    if validation[0] - validation[1] >= TIE_TOLERANCE:
        assert [row["best"] for row in rows] == ["True", "False"]
        assert table_rows[0].startswith("| 1 ★ |")
    else:  # one epoch of two batches can leave both runs at the same score: no winner
        assert [(row["best"], row["tied"]) for row in rows] == [("False", "True")] * 2
        assert table_rows[0].startswith("| 1 (tie) |")
    assert any(line.startswith("| ref | trial-average baseline |") for line in lines)
    assert (out / "curves.png").stat().st_size > 10_000


def test_report_columns_match_each_runs_files(report, sweep: Path) -> None:
    _, rows, markdown = report
    for row in rows:
        run_dir = sweep / row["run"]
        config, metrics, trainable = run_files(run_dir)
        assert number(row["lr"]) == pytest.approx(config["optim"]["optimizer"]["lr"])
        assert row["scheduler"] == config["optim"]["name"] == "cosine"
        assert int(row["epochs"]) == metrics["epochs"] == 1
        assert number(row["trainable_percent"]) == pytest.approx(trainable["trainable_percent"])
        assert number(row["val_corr"]) == pytest.approx(metrics["val/corr"])
        assert number(row["test_corr"]) == pytest.approx(metrics["test/corr"])
        assert number(row["baseline"]) == pytest.approx(metrics["baseline/test/corr"])
        assert number(row["gain"]) == pytest.approx(
            metrics["test/corr"] - metrics["baseline/test/corr"]
        )
        if config["peft"]["name"] == "head_only":
            assert (row["lora_rank"], row["lora_alpha"]) == ("", "")
            assert row["target_layers"] == "head_only"
            assert trainable["lora"] == 0 and trainable["trainable"] == trainable["head"]
        else:
            assert int(row["lora_rank"]) == config["peft"]["r"] == 8
            assert number(row["lora_alpha"]) == config["peft"]["lora_alpha"] == 16
            assert row["target_layers"] == "fused"
            assert trainable["trainable"] == trainable["lora"] + trainable["head"]
            assert trainable["lora"] > 0
        cells = next(  # the table row whose run column (the second) names this run
            line
            for line in markdown.splitlines()
            if line.startswith("| ") and line.split("|")[2].strip() == row["run"]
        )
        assert f"| {metrics['val/corr']:.4f} | {metrics['test/corr']:.4f} |" in cells
    lrs = {row["target_layers"]: number(row["lr"]) for row in rows}
    assert lrs == {"head_only": 0.003, "fused": 0.0005}
