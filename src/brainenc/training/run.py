"""``train(cfg)``: one training run from a composed Hydra config (``python train.py``).

Order of work: take an earlier run's data and model settings (``continue_from``); check the config
(cheap, before anything expensive); claim the run folder; run the pretraining stage when the
strategy needs a core and none is named (``pretrain`` group); seed; prepare the data (building
the dataset when missing); build the model for the data's mice, load its initial weights and
start fresh readouts where the training data place them (``readout_init``); fit with the peft
strategy as a callback, selecting the checkpoint on ``val/corr`` (SIGTERM: exit status 143);
score that checkpoint once on the test split beside the trial-average baseline and the other
references (stimulus-blind control, ridge, in-silico truth and ceiling), counting the samples
each score covers; write the run directory's files (docs/design.md) and the portable artifacts.
wandb is closed and the run folder released at the end whatever happens.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LambdaCallback
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, open_dict

from brainenc.data.mouse_folder import manifest_sha256
from brainenc.evaluation.figures import plot_training_curves
from brainenc.evaluation.metrics import DEFINITIONS
from brainenc.evaluation.references import (
    combine_references,
    read_references,
    reference_scores,
    score_table,
)
from brainenc.evaluation.streaming import BaselineTable
from brainenc.host_memory import retain_freed_memory
from brainenc.runs.artifacts import export_plain_state_dict, is_peft_model, save_adapter
from brainenc.runs.checkpoints import ResumeCheck, checkpoint_epoch
from brainenc.runs.folder import (
    ADAPTER_FOLDER,
    CURVES_FIGURE,
    EXPORTED_MODEL,
    run_figures,
    write_metrics,
    write_resolved_config,
    write_trainable,
)
from brainenc.runs.history import read_metric_history
from brainenc.runs.lock import claim_run_folder
from brainenc.runs.provenance import write_provenance
from brainenc.training.callbacks import SIGTERM_EXIT_CODE
from brainenc.training.config_checks import check_config, heads_are_fresh
from brainenc.training.console import announce, quiet_third_party
from brainenc.training.continuation import continued_config
from brainenc.training.coverage import ScoredSamples
from brainenc.training.initial_weights import load_continuation, load_pretrained
from brainenc.training.loggers import close_wandb, instantiate_named, log_run_outputs
from brainenc.training.module import EncodingModule
from brainenc.training.precision import resolve_precision
from brainenc.training.pretraining import ensure_pretrained_core, needs_stage
from brainenc.training.trainer_setup import build_trainer


def _mouse_folders(datamodule: Any) -> dict[str, Path]:
    return {m: Path(d.mouse.folder) for m, d in datamodule.datasets["test"].items()}


def _build_module(cfg: DictConfig, datamodule: Any) -> EncodingModule:
    mice = datamodule.mice
    model = instantiate(cfg.model)(mice=mice)
    initial_state = None
    if cfg.get("continue_from"):
        initial_state = load_continuation(model, cfg.continue_from)
        announce(f"continuing from {cfg.continue_from}")
    elif cfg.pretrained.path:
        announce(load_pretrained(model, **cfg.pretrained))
    if cfg.get("readout_init") and heads_are_fresh(cfg):
        instantiate(cfg.readout_init).apply(
            model, datamodule.datasets["train"], list(mice), cfg.evaluation.skip
        )
    train_samples = {m: len(d) for m, d in datamodule.datasets["train"].items()}
    loss = instantiate(cfg.loss)(train_samples=train_samples)
    optim = instantiate(cfg.optim)
    return EncodingModule(
        model=model,
        loss=loss,
        neurons={m: spec.num_neurons for m, spec in mice.items()},
        optimizer=optim.optimizer,
        scheduler=optim.scheduler,
        scheduler_interval=optim.interval,
        scheduler_monitor=optim.monitor,
        param_groups=optim.param_groups or None,
        skip=cfg.evaluation.skip,
        initial_state=initial_state,
    )


def _initial_validation(
    cfg: DictConfig, module: EncodingModule, datamodule: Any, strategy: pl.Callback
) -> float | None:
    """``val/corr`` of the model before any training (pretrained core, fresh heads).

    Runs on a throw-away single-device trainer (no logger, no checkpoint); skipped under
    multi-process strategies, when resuming, and with ``evaluation.initial=false``.
    """
    devices = cfg.trainer.get("devices", 1)
    several = devices not in (1, "1") or cfg.trainer.get("num_nodes", 1) != 1
    if not cfg.evaluation.get("initial", True) or cfg.get("ckpt_path") or several:
        return None
    fast_dev_run = cfg.trainer.get("fast_dev_run")
    limit = int(fast_dev_run) if fast_dev_run else cfg.trainer.get("limit_val_batches") or 1.0
    trainer = pl.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=1,
        precision=resolve_precision(cfg.trainer.precision, str(cfg.trainer.accelerator)),
        callbacks=[strategy],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=limit,
        default_root_dir=cfg.paths.output_dir,
    )
    results = trainer.validate(module, datamodule=datamodule, verbose=False)
    value = results[0].get("val/corr") if results else None
    return None if value is None else float(value)


def _relative(path: str, run_dir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(run_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


def _fit_metrics(trainer: pl.Trainer, run_dir: Path) -> dict[str, Any]:
    """Selection results of the fit: best ``val/corr`` (the last one without checkpoints)."""
    callback = trainer.checkpoint_callback
    best_path = callback.best_model_path if callback is not None else ""
    best_score = callback.best_model_score if callback is not None else None
    if best_score is None:
        best_score = trainer.callback_metrics.get("val/corr")
    return {
        "val/corr": None if best_score is None else float(best_score),
        "best_epoch": checkpoint_epoch(best_path) if best_path else None,
        "epochs": int(trainer.current_epoch),
        "checkpoint": _relative(best_path, run_dir) if best_path else None,
    }


def _with_test_metrics(
    metrics: dict[str, Any], test_results: list[dict[str, float]]
) -> dict[str, Any]:
    metrics = dict(metrics)
    for results in test_results:
        metrics.update({k: float(v) for k, v in results.items()})
    keys = ("corr", "corr_pooled", "frames", "baseline")
    metrics["definitions"] = {k: DEFINITIONS[k] for k in keys if k in DEFINITIONS}
    return metrics


def _test(cfg: DictConfig, trainer: pl.Trainer, module: EncodingModule, datamodule: Any) -> list:
    if cfg.evaluation.baseline:
        try:
            module.baseline = BaselineTable.from_folders(_mouse_folders(datamodule))
            if module.baseline is None:
                announce("baseline: n/a (clips unseen in training)")
        except (FileNotFoundError, ValueError) as error:
            announce(f"baseline: n/a for this data ({error})")
    callback = trainer.checkpoint_callback
    best = callback.best_model_path if callback is not None else ""
    if not best:
        announce("no checkpoint was saved: testing the final weights")
    return trainer.test(module, datamodule=datamodule, ckpt_path=best or None, verbose=False)


def _score_space(cfg: DictConfig) -> str:
    normalisation = ((cfg.data.get("build") or {}).get("normalisation")) or "stored"
    if normalisation == "seed":
        return "mean single-trial correlation in recorded units (z-scored fluorescence)"
    return f"mean single-trial correlation of {normalisation!r}-normalised responses"


def _references(cfg: DictConfig, datamodule: Any) -> dict[str, Any] | None:
    """The reference predictors of the test mice (:mod:`brainenc.evaluation.references`)."""
    if not cfg.evaluation.get("references", True):
        return None
    try:
        per_mouse = {
            m: reference_scores(folder, "test", cfg.evaluation.skip)
            for m, folder in _mouse_folders(datamodule).items()
        }
    except (FileNotFoundError, ValueError) as error:
        announce(f"references: n/a for this data ({error})")
        return None
    return combine_references(per_mouse)


def _write_outputs(
    cfg: DictConfig,
    run_dir: Path,
    module: EncodingModule,
    trainer: pl.Trainer,
    metrics: dict[str, Any],
) -> None:
    if cfg.export.adapter and is_peft_model(module.model):
        save_adapter(module.model, run_dir / ADAPTER_FOLDER, cfg.pretrained.path)
    if cfg.export.merged:
        export_plain_state_dict(module.model, run_dir / EXPORTED_MODEL)
    history = read_metric_history(run_dir)
    if history:
        plot_training_curves({cfg.task_name: history}, run_dir / CURVES_FIGURE)
    log_run_outputs(trainer.loggers, metrics, run_figures(run_dir))


def _summary(metrics: dict[str, Any]) -> str:
    def show(key: str) -> str:
        value = metrics.get(key)
        return "n/a" if value is None else f"{value:.4f}"

    return (
        f"val/corr {show('val/corr_initial')} before training, {show('val/corr')} best (epoch "
        f"{metrics.get('best_epoch')}) | test/corr "
        f"{show('test/corr')} | baseline/test/corr {show('baseline/test/corr')}"
        + "".join(f" | partial {k}: {v}" for k, v in metrics.get("partial", {}).items())
    )


def train(cfg: DictConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one training job (see module docstring).

    Returns
    -------
    metrics
        What ``metrics.json`` holds: ``val/corr`` (best), ``test/corr``, per mouse
        ``test/corr/<mouse_id>``, ``baseline/test/corr``, ``best_epoch``, ``epochs``, ...
    objects
        ``cfg``, ``datamodule``, ``module`` (its ``model`` holds the selected weights after
        testing), ``trainer``, ``strategy`` and ``run_dir``.
    """
    quiet_third_party()
    cfg = continued_config(cfg)
    strategy = check_config(cfg)
    lock = claim_run_folder(cfg.paths.output_dir, cfg.get("ckpt_path"))
    try:
        if needs_stage(cfg, strategy.requires_pretrained):
            core = ensure_pretrained_core(cfg, train)
            cfg = copy.deepcopy(cfg)
            with open_dict(cfg):
                cfg.pretrained.path = str(core)
        run_dir = Path(cfg.paths.output_dir)
        if cfg.get("retain_freed_memory", True):
            retain_freed_memory()
        pl.seed_everything(cfg.seed, workers=True)
        datamodule = instantiate(cfg.data)
        datamodule.prepare_data()
        datamodule.setup("fit")
        module = _build_module(cfg, datamodule)

        def record_trainable(trainer: pl.Trainer, pl_module: EncodingModule) -> None:
            if trainer.is_global_zero:
                write_trainable(run_dir, pl_module.parameter_counts.as_dict())

        scored = ScoredSamples.of(datamodule)
        callbacks = [
            strategy,
            *([ResumeCheck(cfg.ckpt_path)] if cfg.get("ckpt_path") else []),
            *instantiate_named(cfg.get("callbacks"), "callbacks"),
            LambdaCallback(on_fit_start=record_trainable),
            scored,
        ]
        trainer = build_trainer(cfg, callbacks, len(datamodule.mice))
        if trainer.is_global_zero:
            write_resolved_config(run_dir, cfg)
            manifests = {m: manifest_sha256(f) for m, f in _mouse_folders(datamodule).items()}
            write_provenance(run_dir, cfg.seed, manifests)
        initial = _initial_validation(cfg, module, datamodule, strategy)
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        except SIGTERMException as stop:  # a SystemExit with status 0: make it a failure
            raise SystemExit(SIGTERM_EXIT_CODE) from stop
        metrics = {"val/corr_initial": initial, **_fit_metrics(trainer, run_dir)}
        test_results = _test(cfg, trainer, module, datamodule) if cfg.evaluation.test else []
        metrics = _with_test_metrics(metrics, test_results) | scored.metrics()
        if trainer.is_global_zero and test_results:
            references = _references(cfg, datamodule)
            if references is not None:
                metrics["references"] = references
                table = score_table(read_references(metrics), {"model": metrics.get("test/corr")})
                partial = metrics.get("partial", {}).get("test/corr")
                scope = (
                    f" (model: partial, {partial}; references: the whole split)" if partial else ""
                )
                announce(f"test scores, {_score_space(cfg)}{scope}:\n{table}")
        if trainer.is_global_zero:
            write_metrics(run_dir, metrics)
            _write_outputs(cfg, run_dir, module, trainer, metrics)
        announce(f"{_summary(metrics)} | run: {run_dir}")
        objects = {
            "cfg": cfg,
            "datamodule": datamodule,
            "module": module,
            "trainer": trainer,
            "strategy": strategy,
            "run_dir": run_dir,
        }
        return metrics, objects
    finally:
        close_wandb()
        lock.release()


def optimized_metric(metrics: dict[str, Any], name: str | None) -> float | None:
    """The value a sweeper optimises (``optimized_metric`` in the config), or None if unnamed."""
    if not name:
        return None
    if name not in metrics:
        known = sorted(k for k, v in metrics.items() if isinstance(v, int | float))
        raise KeyError(f"optimized_metric={name!r} is not among this run's metrics: {known}.")
    value = metrics[name]
    return None if value is None else float(value)
