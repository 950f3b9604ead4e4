"""Helpers shared by the training tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from brainenc.conf import CONFIG_DIR as CONF_DIR
from brainenc.models import MouseSpec, ViV1T

# The model of the CPU tests: the tiny ViV1T with spatial stride 4 (8 x 15 patches), no
# recomputation and a positive softplus output, as in the demo.
TEST_MODEL = [
    "model=tiny",
    "model.core.spatial_patch_stride=4",
    "model.core.grad_checkpointing=false",
    "model.output_activation=softplus",
]


def mouse_spec(num_neurons: int, seed: int = 0) -> MouseSpec:
    generator = torch.Generator().manual_seed(seed)
    return MouseSpec(torch.rand(num_neurons, 2, generator=generator) * 400, torch.rand(num_neurons))


def build_model(name: str, neurons: dict[str, int], seed: int = 0) -> ViV1T:
    """A model with random mice of the given neuron counts: ``"test"`` (:data:`TEST_MODEL`) or
    the name of a ``conf/model`` option."""
    overrides = ["+" + TEST_MODEL[0], *TEST_MODEL[1:]] if name == "test" else [f"+model={name}"]
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        model_cfg = compose(overrides=overrides).model
    GlobalHydra.instance().clear()
    torch.manual_seed(seed)
    mice = {m: mouse_spec(n, seed=i) for i, (m, n) in enumerate(neurons.items())}
    return instantiate(model_cfg)(mice=mice)


def random_batch(mouse_id: str, neurons: int, batch: int = 2, frames: int = 40, seed: int = 0):
    """A dataset-like batch dict: video (B,1,T,36,64), behavior/pupil (B,2,T), responses (B,N,T)."""
    generator = torch.Generator().manual_seed(seed)
    return {
        "video": torch.randn(batch, 1, frames, 36, 64, generator=generator),
        "behavior": torch.randn(batch, 2, frames, generator=generator),
        "pupil_center": torch.randn(batch, 2, frames, generator=generator),
        "responses": torch.rand(batch, neurons, frames, generator=generator),
        "mouse_id": [mouse_id] * batch,
    }


def compose_config(overrides: list[str], output_dir: Path) -> DictConfig:
    """Compose ``conf/train.yaml`` as ``python train.py`` would, with HydraConfig set.

    ``paths.output_dir`` is pointed at ``output_dir`` (Hydra's runtime dir is unset in tests).
    """
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        del cfg.hydra
    return cfg
