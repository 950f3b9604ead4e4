"""A limited run says in ``metrics.json`` and in the report that its scores cover part of a
split ("N of M samples"), so a score of 2 batches of one mouse never passes for the split's."""

from __future__ import annotations

import json

from brainenc.evaluation.comparison import write_report
from brainenc.training import train


def test_limited_run_flags_its_partial_scores(make_config, run_overrides, tmp_path):
    overrides = [*run_overrides, "data.mouse_ids=[A,B]", "peft=none", "trainer.max_epochs=1"]
    limits = ["limit_train_batches=1", "limit_val_batches=1", "limit_test_batches=1"]
    cfg = make_config([*overrides, *(f"+trainer.{limit}" for limit in limits)])
    metrics, objects = train(cfg)
    stored = json.loads((objects["run_dir"] / "metrics.json").read_text())
    for stage in ("val", "test"):
        assert 0 < stored[f"{stage}/samples"] < stored[f"{stage}/samples_total"]
    total = stored["test/samples_total"]
    assert stored["partial"]["test/corr"] == (
        f"{stored['test/samples']} of {total} test samples; mice without any: B"
    )
    rows = write_report([objects["run_dir"]], tmp_path / "report").table
    assert f"(partial: {stored['test/samples']} of {total} samples)" in rows
