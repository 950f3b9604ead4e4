"""Console output: no third-party noise, clean progress lines in log files, no FLOPs of 0."""

from __future__ import annotations

import logging
import warnings

from lightning.pytorch.callbacks import TQDMProgressBar

from brainenc.training.console import (
    LineProgressBar,
    ModuleSummary,
    progress_bar,
    quiet_third_party,
)


def test_progress_is_plain_lines_when_output_is_not_a_terminal():
    assert isinstance(progress_bar(refresh_rate=10), LineProgressBar)  # pytest captures stderr
    assert isinstance(progress_bar(refresh_rate=0), TQDMProgressBar)


def test_third_party_noise_is_dropped(caplog):
    quiet_third_party()
    with warnings.catch_warnings(record=True) as caught:
        message = "`isinstance(treespec, LeafSpec)` is deprecated, use ..."
        warnings.warn(message, FutureWarning, stacklevel=1)
    assert caught == []
    lightning = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    with caplog.at_level(logging.INFO):
        for _ in range(2):  # a second trainer repeats its device lines
            lightning.info("GPU available: True (console test), used: True")
            lightning.info("💡 Tip: For seamless cloud logging and experiment tracking, try ...")
    assert [record.getMessage() for record in caplog.records] == [
        "GPU available: True (console test), used: True"
    ]


def test_model_summary_has_no_flops(caplog):
    columns = [(" ", ["0"]), ("Name", ["model"]), ("Params", ["127 K"]), ("FLOPs", ["0"])]
    with caplog.at_level(logging.INFO, logger="brainenc.training"):
        ModuleSummary.summarize(columns, 127_086, 100, 0.5, {"train": 3, "eval": 0}, total_flops=0)
    assert "model" in caplog.text and "127,086 parameters" in caplog.text
    assert "FLOPs" not in caplog.text and "Flops" not in caplog.text
