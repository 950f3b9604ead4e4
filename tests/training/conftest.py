"""Fixtures of the training tests: composed run configs, tiny models, a core checkpoint and a
small in-silico dataset built once per session through the real builder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig
from training_helpers import TEST_MODEL, build_model, compose_config

from brainenc.models import save_checkpoint


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No wandb (logger=auto falls back to CSV), and no Hydra state left for the next test."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    yield
    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., DictConfig]:
    """``make_config(overrides, output_dir=tmp_path / "run")`` → composed run config."""

    def make(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
        return compose_config(overrides, output_dir or tmp_path / "run")

    return make


@pytest.fixture(scope="session")
def core_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny core in the authors' checkpoint layout (trained on other mice: heads X, Y)."""
    model = build_model("test", {"X": 5, "Y": 4}, seed=123)
    path = tmp_path_factory.mktemp("pretrained") / "tiny_core.pt"
    return save_checkpoint(model, path, epoch=3, value=0.1)


@pytest.fixture(scope="session")
def run_overrides(tmp_path_factory: pytest.TempPathFactory, insilico_cache: Path) -> list[str]:
    """Overrides for quick CPU runs on a small in-silico dataset, built once per session.

    The dataset comes through the real path: the shared ``insilico_cache`` (NWB files written by
    ``brainenc.insilico``) read through allensdk by ``brainenc.data.build`` (``test`` preset, mice
    A and B, 48-frame clips, ViV1T response normalisation). The model is the tiny ViV1T with
    spatial stride 4 and a softplus output (``TEST_MODEL``); no logger unless a test asks.
    """
    root = tmp_path_factory.mktemp("data")
    overrides = [
        "data=insilico",
        f"paths.root_dir={root}",
        f"paths.dataset_dir={root / 'datasets'}",
        f"data.build.cache_dir={insilico_cache}",
        "data.build.insilico.scale=test",
        "data.build.insilico.mice=[A,B]",
        "+data.build.mice={A:[501729039],B:[501773889]}",
        "data.build.clip_frames=48",
        "data.build.normalisation=viv1t",
        "data.build.figures=false",
        "data.batch_size=8",
        "data.mouse_ids=[A]",
        *TEST_MODEL,
        "trainer=cpu",
        "logger=none",
        "callbacks.progress_bar.refresh_rate=0",
        "trainer.enable_model_summary=false",
        "evaluation.references=false",  # fitted once, in the lora_run fixture
    ]
    cfg = compose_config([*overrides, "data.mouse_ids=[A,B]"], root / "unused")
    instantiate(cfg.data).prepare_data()
    GlobalHydra.instance().clear()
    return overrides
