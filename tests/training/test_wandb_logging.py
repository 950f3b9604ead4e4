"""wandb runs are named after their run folder, a multirun's jobs share one group, and the end of
a run sends its figures and its test scores among the references."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig

from brainenc.training.loggers import SCORE_COLUMNS, instantiate_named, log_run_outputs


def wandb_init(make_config, overrides: list[str], output_dir: Path) -> dict:
    cfg = make_config(["logger=wandb", *overrides], output_dir)
    loggers = instantiate_named(cfg.logger, "logger")
    (wandb,) = [logger for logger in loggers if type(logger).__name__ == "WandbLogger"]
    return wandb._wandb_init


def test_wandb_names_runs_by_folder_and_groups_a_multirun(make_config, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    single = wandb_init(make_config, [], tmp_path / "12-00-00_train")
    assert (single["name"], single["group"]) == ("12-00-00_train", None)
    job = wandb_init(make_config, ["hparams_search=lora_grid"], tmp_path / "3_peft=lora8_all")
    assert job["name"] == "3_peft=lora8_all"
    assert job["group"] == Path(HydraConfig.get().sweep.dir).name
    assert job["group"].endswith("_lora_grid")
    artifacts = make_config(["logger=wandb", "logger.wandb.log_model=true"]).logger
    assert instantiate_named(artifacts, "logger")[-1]._log_model is False  # offline: no upload
    monkeypatch.setenv("WANDB_MODE", "disabled")  # not offline: checkpoints become artifacts
    assert instantiate_named(artifacts, "logger")[-1]._log_model is True


class RecordingLogger:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def log_image(self, key: str, images: list[str]) -> None:
        self.calls.append(("image", key, images))

    def log_table(self, key: str, columns: list[str], data: list[list]) -> None:
        self.calls.append(("table", key, columns, data))


def test_run_outputs_are_logged(tmp_path):
    logger = RecordingLogger()
    figure = tmp_path / "figures" / "curves.png"
    log_run_outputs([logger], {"test/corr": 0.3, "baseline/test/corr": 0.2}, [figure])
    assert logger.calls == [
        ("image", "figures/curves", [str(figure)]),
        (
            "table",
            "test/scores",
            SCORE_COLUMNS,
            [["model", 0.3, None], ["trial-average baseline", 0.2, None]],
        ),
    ]
