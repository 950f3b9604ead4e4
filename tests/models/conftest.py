"""Fixtures for brainenc.models: models built from the real Hydra configs in conf/model/."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from brainenc.conf import CONFIG_DIR as CONF_DIR
from brainenc.models import MouseSpec, ViV1T


@pytest.fixture(scope="session")
def model_configs() -> dict[str, DictConfig]:
    """The composed ``model`` group options, by name."""
    configs = {}
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        for name in ("tiny", "viv1t"):
            configs[name] = compose(overrides=[f"+model={name}"]).model
    return configs


def mouse_spec(num_neurons: int, seed: int = 0) -> MouseSpec:
    generator = torch.Generator().manual_seed(seed)
    coordinates = torch.rand(num_neurons, 2, generator=generator) * 400.0
    return MouseSpec(coordinates, torch.rand(num_neurons, generator=generator))


@pytest.fixture
def build_model(model_configs: dict[str, DictConfig]) -> Callable[..., ViV1T]:
    """``build_model(name, {mouse_id: N}, **core_overrides)`` -> ViV1T with seeded weights."""

    def build(name: str, neurons: dict[str, int], seed: int = 0, **core_overrides) -> ViV1T:
        torch.manual_seed(seed)
        config = model_configs[name].copy()
        for key, value in core_overrides.items():
            config.core[key] = value
        mice = {m: mouse_spec(n, seed=i) for i, (m, n) in enumerate(neurons.items())}
        return instantiate(config)(mice=mice)

    return build


def random_inputs(
    batch: int, frames: int, seed: int = 1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Video ``(B, 1, T, 36, 64)``, behavior and pupil_center ``(B, 2, T)``, standard normal."""
    generator = torch.Generator().manual_seed(seed)
    video = torch.randn(batch, 1, frames, 36, 64, generator=generator)
    behavior = torch.randn(batch, 2, frames, generator=generator)
    pupil_center = torch.randn(batch, 2, frames, generator=generator)
    return video, behavior, pupil_center


@pytest.fixture
def make_inputs() -> Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``make_inputs(batch, frames, seed=1)`` -> (video, behavior, pupil_center)."""
    return random_inputs


@pytest.fixture
def make_mouse() -> Callable[..., MouseSpec]:
    """``make_mouse(num_neurons, seed=0)`` -> MouseSpec with random coordinates and means."""
    return mouse_spec
