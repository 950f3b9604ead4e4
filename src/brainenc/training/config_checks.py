"""Check a run's config before any expensive work, with errors that name the setting.

Each setting is checked by the code that owns it, called here before anything is built: the peft
strategy's constructor (rank, alpha, targets), :class:`~brainenc.training.optimization.OptimRecipe`
(learning rates, schedule, parameter groups), :func:`~brainenc.training.losses.check_loss_settings`,
:mod:`~brainenc.training.trainer_setup` (precision, epochs, accumulation, DDP inside a local
sweep), :func:`~brainenc.evaluation.metrics.check_skip` and
:func:`~brainenc.models.checkpoint.check_part`. What is left here relates several groups: clip
length, training window (`data.crop_frames`) and frame size against the model's context,
position embedding and scored frames; mouse ids against the configured mice; pretrained, resume
and continuation paths against the peft strategy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.utils import get_class, instantiate
from omegaconf import DictConfig

from brainenc.evaluation.metrics import DEFAULT_SKIP, check_skip
from brainenc.models.checkpoint import check_part
from brainenc.models.core import prediction_offset
from brainenc.runs.folder import EXPORTED_MODEL
from brainenc.training.losses import check_loss_settings
from brainenc.training.strategies import FineTuningStrategy
from brainenc.training.trainer_setup import check_distributed, check_trainer_settings


class ConfigCheckError(ValueError):
    """A setting of the run config is invalid (the message names it and what to do)."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigCheckError(message)


def _owner_check(check: Callable[..., None], *settings: Any) -> None:
    """Run the check of the module that owns ``settings``; its ValueError names the setting."""
    try:
        check(*settings)
    except ValueError as error:
        raise ConfigCheckError(str(error)) from error


def build_strategy(cfg: DictConfig) -> FineTuningStrategy:
    """Instantiate ``cfg.peft`` and check that it is a fine-tuning strategy."""
    node = cfg.get("peft")
    _require(node is not None and "_target_" in node, "peft: missing; choose e.g. peft=head_only.")
    try:
        target = get_class(node._target_)
    except Exception as error:  # hydra raises several types for unknown targets
        raise ConfigCheckError(
            f"peft._target_={node._target_!r} cannot be imported: {error}"
        ) from error
    _require(
        isinstance(target, type) and issubclass(target, FineTuningStrategy),
        f"peft._target_={node._target_!r} is not a brainenc.training.strategies strategy.",
    )
    try:
        return instantiate(node)
    except Exception as error:
        cause = error.__cause__ or error
        raise ConfigCheckError(f"peft ({node.get('name', node._target_)}): {cause}") from error


def _check_optim(optim: DictConfig | None) -> None:
    """Build the ``optim`` node: :class:`~brainenc.training.optimization.OptimRecipe` checks it."""
    _require(optim is not None and "optimizer" in optim, "optim: missing optim.optimizer.")
    try:
        instantiate(optim)
    except Exception as error:  # hydra wraps the recipe's ValueError
        raise ConfigCheckError(str(error.__cause__ or error)) from error


def heads_are_fresh(cfg: DictConfig) -> bool:
    """True when the run's shifters and readouts start from initialisation: no checkpoint that
    brings heads (``pretrained.part=all``, ``continue_from``, ``ckpt_path``)."""
    pretrained = cfg.get("pretrained") or {}
    loads_heads = pretrained.get("path") and pretrained.get("part", "core") == "all"
    return not (loads_heads or cfg.get("continue_from") or cfg.get("ckpt_path"))


def _check_paths(cfg: DictConfig, strategy: FineTuningStrategy) -> None:
    pretrained = cfg.get("pretrained") or {}
    path = pretrained.get("path")
    part = pretrained.get("part", "core")
    _owner_check(check_part, part, "pretrained.part")
    continue_from = cfg.get("continue_from")
    ckpt_path = cfg.get("ckpt_path")
    stage = cfg.get("pretrain")
    made_by_pretraining = stage is not None and path is None
    _require(
        not (ckpt_path and continue_from),
        "ckpt_path (resume exactly) and continue_from (new optimizer and schedule) exclude each "
        "other; give one.",
    )
    for name, value in (("ckpt_path", ckpt_path), ("continue_from", continue_from)):
        _require(value is None or Path(value).exists(), f"{name}={value}: no such file or folder.")
    if strategy.requires_pretrained and not (
        path or continue_from or made_by_pretraining or ckpt_path
    ):
        raise ConfigCheckError(
            f"peft={strategy.name} needs a pretrained core: set pretrained.path=<checkpoint> "
            "(the authors' model_state.pt or a brainenc core), or use peft=none to train from "
            "scratch."
        )
    if getattr(strategy, "train_head", True) is False and heads_are_fresh(cfg):
        raise ConfigCheckError(
            f"peft={strategy.name} with peft.train_head=false would train adapters against "
            "frozen, freshly initialised shifters and readouts (pretrained.part=core loads no "
            "heads), which cannot learn. Train the heads too (peft.train_head=true, the "
            "default), or first run peft=head_only and continue from it "
            "(+continue_from=<head-only run>), or load heads with pretrained.part=all."
        )
    if not strategy.requires_pretrained and path:
        raise ConfigCheckError(
            f"peft={strategy.name} trains from scratch but pretrained.path={path} is set; use "
            "peft=full to fine-tune every weight of a pretrained model, or drop pretrained.path."
        )
    if path:
        _require(
            Path(path).is_file(),
            f"pretrained.path={path}: no such file. Point it at a core checkpoint: the ViV1T "
            "authors' weights (huggingface bryanlimy/ViV1T, runs/viv1t_001/ckpt/model_state.pt; "
            "the seed_* experiments also read VIV1T_CHECKPOINT) or a brainenc run's "
            f"{EXPORTED_MODEL}.",
        )


def _configured_mice(data: Any) -> list[str] | None:
    """Mouse ids the data config can serve, or None when only the built folders will tell."""
    build = data.get("build") or {}
    if build.get("mice"):
        return [str(mouse) for mouse in build["mice"]]
    root = Path(str(data.get("root"))) if data.get("root") else None
    if root is not None and root.is_dir():
        return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return None


def _positive_int(value: Any, setting: str) -> int:
    _require(
        isinstance(value, int) and not isinstance(value, bool) and value >= 1,
        f"{setting} must be a positive integer number of frames, got {value!r}.",
    )
    return value


def _check_clip_geometry(cfg: DictConfig, data: Any) -> None:
    """Clip and training-window lengths and the frame size against the model and the scoring."""
    build = data.get("build") or {}
    core: Any = cfg.model.get("core") or {}
    context = core.get("temporal_patch_size")
    max_frame = core.get("max_frame")
    if context is not None:
        offset = prediction_offset(context)
        first = max(offset, cfg.evaluation.get("skip", DEFAULT_SKIP))
        clip_frames = build.get("clip_frames")
        if clip_frames is not None:
            clip_frames = _positive_int(clip_frames, "data.build.clip_frames")
            _require(
                clip_frames >= first + 2,
                f"data.build.clip_frames={clip_frames}: the model needs at least {context} "
                f"frames per clip (model.core.temporal_patch_size={context}: its first prediction "
                f"is for frame {offset}), and validation and test score frames {first}.. "
                f"of each clip (evaluation.skip={cfg.evaluation.get('skip', DEFAULT_SKIP)}), of which "
                f"correlations need at least 2: use clip_frames >= {first + 2} (the seed: 140).",
            )
            _require(
                max_frame is None or clip_frames <= max_frame,
                f"data.build.clip_frames={clip_frames} exceeds model.core.max_frame={max_frame}, "
                "the longest clip the model's temporal position embedding covers.",
            )
        crop = data.get("crop_frames")
        if crop is not None:
            crop = _positive_int(crop, "data.crop_frames")
            _require(
                int(context) + 1 <= crop and (max_frame is None or crop <= max_frame),
                f"data.crop_frames={crop}: training windows need between "
                f"model.core.temporal_patch_size + 1 = {int(context) + 1} frames (the model "
                f"predicts from frame {offset}; at least 2 predicted frames) and "
                f"model.core.max_frame={max_frame}; use null for whole clips.",
            )
    data_size, model_size = build.get("frame_size"), core.get("frame_size")
    if data_size is not None and model_size is not None:
        data_size, model_size = list(data_size), list(model_size)
        _require(
            data_size == model_size,
            f"data.build.frame_size={data_size} differs from model.core.frame_size={model_size}: "
            "the model only reads frames of its own size. Set both to the same [height, width].",
        )
        patch = core.get("spatial_patch_size")
        _require(
            len(data_size) == 2
            and all(isinstance(v, int) and v >= (patch or 1) for v in data_size),
            f"data.build.frame_size={data_size} must be [height, width], each at least "
            f"model.core.spatial_patch_size={patch} pixels.",
        )


def _check_data(cfg: DictConfig) -> None:
    data: Any = cfg.get("data") or {}
    _check_clip_geometry(cfg, data)
    requested = data.get("mouse_ids")
    if requested is None or isinstance(requested, str) or hasattr(requested, "keys"):
        return  # all mice, or explicit {mouse_id: folder} pairs checked when opened
    known = _configured_mice(data)
    unknown = [str(m) for m in requested if known is not None and str(m) not in known]
    _require(
        not unknown,
        f"data.mouse_ids: unknown mouse id(s) {unknown}; valid: {', '.join(known or [])} "
        "(from data.build.mice, or the folders under data.root).",
    )


def check_config(cfg: DictConfig) -> FineTuningStrategy:
    """Check ``cfg`` (see module docstring) and return the instantiated peft strategy."""
    strategy = build_strategy(cfg)
    _check_optim(cfg.get("optim"))
    _owner_check(check_trainer_settings, cfg.trainer)
    loss: Any = cfg.get("loss") or {}
    build = (cfg.get("data") or {}).get("build") or {}
    _owner_check(check_loss_settings, loss.get("name"), build.get("normalisation"))
    retain = cfg.get("retain_freed_memory", True)
    _require(
        isinstance(retain, bool), f"retain_freed_memory must be true or false, got {retain!r}."
    )
    _owner_check(check_skip, cfg.evaluation.get("skip", DEFAULT_SKIP), "evaluation.skip")
    _check_data(cfg)
    _check_paths(cfg, strategy)
    _owner_check(check_distributed, cfg.trainer)
    return strategy
