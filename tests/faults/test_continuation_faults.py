"""``+continue_from`` reads the earlier run's folder as data: an edited config runs no code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from brainenc.runs.folder import write_resolved_config
from brainenc.runs.stored_config import StoredConfigError
from brainenc.training.continuation import continued_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from training_helpers import compose_config  # noqa: E402


@pytest.mark.parametrize(
    ("node", "target"),
    [("data", "shutil.copyfile"), ("model", "torch.load"), ("model.core", "os.system")],
)
def test_an_edited_earlier_config_cannot_run_code(tmp_path, node, target):
    earlier = tmp_path / "earlier"
    write_resolved_config(earlier, compose_config(["data=insilico_test"], earlier))
    stored = OmegaConf.load(earlier / "config_resolved.yaml")
    OmegaConf.update(stored, f"{node}._target_", target)
    (earlier / "config_resolved.yaml").write_text(OmegaConf.to_yaml(stored))
    cfg = compose_config([f"+continue_from={earlier}"], tmp_path / "next")
    with pytest.raises(StoredConfigError, match=target.replace(".", r"\.")) as error:
        continued_config(cfg)
    assert "config_resolved.yaml" in str(error.value)
    assert not (tmp_path / "next").exists()
