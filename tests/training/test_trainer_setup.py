"""The trainer group's own checks, which the config check calls before any build."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from brainenc.training.trainer_setup import check_trainer_settings


def _trainer(**settings):
    return OmegaConf.create({"accelerator": "cpu", "max_epochs": 1, **settings})


def test_ddp_with_lightnings_distributed_sampler_is_refused_by_name():
    with pytest.raises(
        ValueError, match="trainer.strategy=ddp needs trainer.use_distributed_sampler=false"
    ):
        check_trainer_settings(_trainer(strategy="ddp", devices=2))
    check_trainer_settings(_trainer(strategy="ddp", devices=2, use_distributed_sampler=False))
    check_trainer_settings(_trainer(strategy="auto"))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_epochs": 0}, "trainer.max_epochs must be an integer >= 1"),
        ({"accumulate_grad_batches": 0}, "accumulate_grad_batches must be an integer >= 1"),
        ({"precision": "64-bits"}, "64-bits"),
    ],
)
def test_trainer_settings_are_named_in_the_error(settings, message):
    with pytest.raises(ValueError, match=message):
        check_trainer_settings(_trainer(**settings))
