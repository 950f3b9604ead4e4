"""The comparison report built from synthetic run directories in the contract layout."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from brainenc.evaluation.comparison import comparison_rows, write_report
from brainenc.evaluation.figures import CURVE_PANELS, training_curves_figure
from brainenc.evaluation.references import PREDICTORS
from brainenc.report import main
from brainenc.runs.folder import find_runs
from brainenc.runs.folder import read_run_record as load_run
from brainenc.runs.history import read_metric_history

LORA_CONFIG = {
    "peft": {
        "name": "lora8_fused",
        "r": 8,
        "lora_alpha": 16,
        "target_modules": ["fused_linear"],
        "train_head": False,
    },
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
        "no",
        "0.001",
        "cosine",
        "25",
        "3.80",
        "0.0350",
        "0.0420",
        "0.0235",
        "+0.0185",
        "–",
    ]
    assert rows[1] == [
        "2",
        "0",
        "–",
        "–",
        "head_only",
        "yes",
        "0.001",
        "cosine",
        "25",
        "0.91",
        "0.0150",
        "0.0178",
        "0.0235",
        "-0.0057",
        "–",
    ]
    # Runs older than the references: their baseline, everything else n/a.
    assert [row[:2] + row[11:] for row in rows[2:]] == [
        ["ref", "trial-average baseline", "0.0235", "–", "–", "–"],
        *(
            ["ref", label, "n/a (not in metrics.json)", "–", "–", "–"]
            for label in list(PREDICTORS.values())[1:]
        ),
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
    assert rows[0][:9] == ["1 ★", "by_clip", "16", "32", "all", "–", "0.0036", "linear", "25"]
    assert rows[0][9] == "–"
    assert rows[0][12:] == ["n/a (clips unseen in training)", "–", "–"]
    # A run without metrics.json is shown as failed, with its settings, not as an empty row.
    assert rows[1] == [
        "2 failed",
        "crashed",
        "–",
        "–",
        "head_only",
        "yes",
        "0.001",
        "cosine",
        "40",
        "–",
        "failed: no metrics.json: crashed or still running",
        "–",
        "–",
        "–",
        "–",
    ]
    # The references of the scored run only.
    blocks = [row[1] for row in rows[2:] if row[1].startswith("trial-average baseline")]
    assert blocks == ["trial-average baseline"]
    assert rows[2][11] == "n/a (clips unseen in training)"
    records = list(csv.DictReader(io.StringIO(files.csv.read_text())))
    assert records[1]["failure"].startswith("no metrics.json") and records[0]["failure"] == ""
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


def stored_references(ceiling: float | None = 0.4) -> dict:
    """``references`` as the training run writes them (layout of References.as_dict)."""
    values = {
        "baseline": 0.2,
        "stimulus_blind": 0.04,
        "ridge": 0.25,
        "stimulus_locked_truth": 0.3,
        "noise_ceiling": ceiling,
    }
    entries = {
        name: {"corr": value, "corr_pooled": value, "fraction_of_ceiling": None, "reason": None}
        if value is not None
        else {"corr": None, "corr_pooled": None, "reason": "no noise-free signal: real recording"}
        for name, value in values.items()
    }
    if ceiling is None:
        entries["stimulus_locked_truth"] = entries["noise_ceiling"]
    entries["ridge"]["lambda"] = 100.0
    return {"split": "test", "skip": 24, **entries}


def test_report_puts_the_references_and_fractions_of_the_ceiling_beside_the_runs(
    tmp_path: Path, run_dir_factory
) -> None:
    root = tmp_path / "runs"
    for name, (val, test) in {"lora": (0.32, 0.3), "head": (0.2, 0.1)}.items():
        scores = {**metrics(val, test, baseline=0.2), "references": stored_references()}
        run_dir_factory(root / name, LORA_CONFIG, scores, {"trainable_percent": 1.0})
    files = write_report([root], tmp_path / "out")
    rows = parse_markdown(files.table)
    assert [row[0] for row in rows] == ["1 ★", "2", *["ref"] * 5]
    assert rows[0][1] == "lora" and rows[0][-1] == "0.750"  # 0.3 / 0.4
    assert rows[1][-1] == "0.250"
    by_label = {row[1]: (row[11], row[13], row[14]) for row in rows[2:]}
    assert by_label == {
        "trial-average baseline": ("0.2000", "–", "0.500"),
        "stimulus-blind control": ("0.0400", "-0.1600", "0.100"),
        "ridge (video + behaviour)": ("0.2500", "+0.0500", "0.625"),
        "stimulus-locked truth (in-silico)": ("0.3000", "+0.1000", "0.750"),
        "noise ceiling (in-silico)": ("0.4000", "+0.2000", "1.000"),
    }
    records = list(csv.DictReader(io.StringIO(files.csv.read_text())))
    assert float(records[0]["fraction_of_ceiling"]) == pytest.approx(0.75)
    assert float(records[0]["reference_ridge"]) == 0.25
    assert float(records[1]["reference_noise_ceiling"]) == 0.4
    assert "stimulus-blind control" in files.markdown.read_text()


def test_report_of_real_recordings_has_no_fraction_of_the_ceiling(
    tmp_path: Path, run_dir_factory
) -> None:
    scores = {**metrics(0.3, 0.3), "references": stored_references(ceiling=None)}
    run = run_dir_factory(tmp_path / "real", LORA_CONFIG, scores, {"trainable_percent": 1.0})
    rows = parse_markdown(write_report([run], tmp_path / "out").table)
    assert rows[0][-1] == "–"
    assert rows[2][11:] == ["0.0400", "–", "-0.1600", "–"]
    assert rows[4][11] == rows[5][11] == "n/a (no noise-free signal: real recording)"


def test_runs_tied_to_three_decimals_have_no_winner(tmp_path: Path, run_dir_factory) -> None:
    root = tmp_path / "runs"
    for name, val in {"a": 0.0349, "b": 0.0351, "c": 0.02}.items():
        run_dir_factory(root / name, HEAD_CONFIG, metrics(val, 0.03), {"trainable_percent": 1.0})
    files = write_report([root], tmp_path / "out")
    rows = parse_markdown(files.table)
    assert [row[:2] for row in rows[:3]] == [["1 (tie)", "b"], ["2 (tie)", "a"], ["3", "c"]]
    assert "★" not in files.table
    records = list(csv.DictReader(io.StringIO(files.csv.read_text())))
    assert [(r["best"], r["tied"]) for r in records] == [
        ("False", "True"),
        ("False", "True"),
        ("False", "False"),
    ]
    # A clear winner keeps its star.
    run_dir_factory(root / "d", HEAD_CONFIG, metrics(0.04, 0.03), {"trainable_percent": 1.0})
    rows = parse_markdown(write_report([root], tmp_path / "out2").table)
    assert [row[:2] for row in rows[:3]] == [["1 ★", "d"], ["2", "b"], ["3", "a"]]


def test_older_runs_on_the_same_data_share_the_recorded_references(
    tmp_path: Path, run_dir_factory
) -> None:
    root = tmp_path / "runs"
    run_dir_factory(root / "a_old", HEAD_CONFIG, metrics(0.3, 0.3, baseline=0.2))
    recorded = {**metrics(0.2, 0.2, baseline=0.2), "references": stored_references()}
    run_dir_factory(root / "b_new", HEAD_CONFIG, recorded)
    run_dir_factory(root / "c_other", HEAD_CONFIG, metrics(0.1, 0.1, baseline=0.05))
    rows = parse_markdown(write_report([root], tmp_path / "out").table)
    labels = [row[1] for row in rows if row[0] == "ref"]
    assert labels[0] == "trial-average baseline [a_old, b_new]"
    assert labels[2] == "ridge (video + behaviour) [a_old, b_new]"
    assert rows[5][11] == "0.2500"
    assert labels[5] == "trial-average baseline [c_other]"
    assert rows[0][-1] == "–"  # the old run itself recorded no ceiling


def test_exact_ties_get_no_star_and_non_lora_runs_show_no_rank(tmp_path: Path, run_dir_factory):
    root = tmp_path / "runs"
    # An Optuna trial of peft=head_only carries the swept peft.r: it is no LoRA rank.
    trial = {**HEAD_CONFIG, "peft": {"name": "head_only", "r": 16, "lora_alpha": 32.0}}
    for name in ("a", "b"):
        run_dir_factory(root / name, trial, metrics(0.03, 0.03), {"trainable_percent": 1.0})
    rows = parse_markdown(write_report([root], tmp_path / "out").table)
    assert [row[0] for row in rows[:2]] == ["1 (tie)", "2 (tie)"]
    assert rows[0][2:6] == ["–", "–", "head_only", "yes"]


def test_report_curves_have_one_panel_per_metric_and_short_labels(multirun: Path) -> None:
    rows = comparison_rows([load_run(multirun / name) for name in "01"], ["0", "1"])
    labels = [row.label(position) for position, row in enumerate(rows, start=1)]
    assert labels == ["#1 r8 fused lr 0.001 cosine", "#2 head_only lr 0.001 cosine"]
    histories = {
        label: read_metric_history(multirun / row.run)
        for label, row in zip(labels, rows, strict=True)
    }
    figure = training_curves_figure(histories, baseline=0.02)
    assert [axes.get_title() for axes in figure.axes] == [
        CURVE_PANELS["train/loss"][0],
        CURVE_PANELS["val/corr"][0],
    ]
    assert all(axes.get_legend() is None for axes in figure.axes)  # one legend, beside them
    (legend,) = figure.legends
    assert [text.get_text() for text in legend.get_texts()] == [*labels, "trial-average baseline"]
    assert all(axes.get_xlabel() and axes.get_ylabel() for axes in figure.axes)
    only_val = {label: {"val/corr": history["val/corr"]} for label, history in histories.items()}
    assert len(training_curves_figure(only_val).axes) == 1


def test_partial_scores_are_flagged(tmp_path: Path, run_dir_factory) -> None:
    limited = {
        **metrics(0.3, -0.293),
        "val/samples": 16,
        "val/samples_total": 40,
        "test/samples": 16,
        "test/samples_total": 80,
    }
    run = run_dir_factory(tmp_path / "limited", HEAD_CONFIG, limited)
    files = write_report([run], tmp_path / "out")
    rows = parse_markdown(files.table)
    assert rows[0][10:12] == [
        "0.3000 (partial: 16 of 40 samples)",
        "-0.2930 (partial: 16 of 80 samples)",
    ]
    (record,) = csv.DictReader(io.StringIO(files.csv.read_text()))
    assert record["test_partial"] == "16 of 80 samples"
