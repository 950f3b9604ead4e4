"""Train an encoding model: ``brainenc train [group=option ...] [key=value ...]``.

Composes ``train.yaml`` of :mod:`brainenc.conf` (see its header for the main commands) and runs
:func:`brainenc.training.train`. ``python train.py`` in a checkout and ``python -m
brainenc.training`` are the same command. Returns the metric named by ``optimized_metric`` so
that sweepers (Optuna) can maximise it.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from brainenc.conf import CONFIG_DIR
from brainenc.training import optimized_metric, train


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics, _ = train(cfg)
    return optimized_metric(metrics, cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
