"""Run messages: INFO records of the ``brainenc`` logger, from the rank-zero process only.

Under ``python train.py`` Hydra sends them to the console and to ``<run_dir>/<job name>.log``.
"""

from __future__ import annotations

import logging

from lightning.pytorch.utilities.rank_zero import rank_zero_only

log = logging.getLogger("brainenc.training")


@rank_zero_only
def announce(message: str) -> None:
    """Log ``message`` once per run (from rank zero)."""
    log.info(message)
