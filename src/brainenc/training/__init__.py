"""Training: LightningModule, losses, fine-tuning strategies and the Hydra entry point.

``train(cfg)`` runs one job from a composed config (``python train.py``); the peft strategies
(:mod:`brainenc.training.strategies`) are Lightning callbacks applied at ``setup``.
"""

from omegaconf import OmegaConf

from brainenc.runs.naming import sweep_job_name
from brainenc.training.module import EncodingModule
from brainenc.training.parameters import TrainableCounts, count_parameters
from brainenc.training.run import optimized_metric, train
from brainenc.training.strategies import (
    FineTuningStrategy,
    FromScratch,
    FullFineTuning,
    HeadOnly,
    LoraStrategy,
)

# Names sweep job folders (brainenc/conf/hydra/default.yaml). Registered on import, so that jobs
# started by any launcher (local, submitit) resolve it too.
OmegaConf.register_new_resolver("sweep_job_name", sweep_job_name, replace=True)

__all__ = [
    "EncodingModule",
    "FineTuningStrategy",
    "FromScratch",
    "FullFineTuning",
    "HeadOnly",
    "LoraStrategy",
    "TrainableCounts",
    "count_parameters",
    "optimized_metric",
    "train",
]
