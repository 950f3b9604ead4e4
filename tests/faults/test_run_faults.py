"""Run configs, interruption, run directories and reproducibility of `train(cfg)`.

Bad settings fail in `train(cfg)` before any dataset is built; a pre-empted run (SIGTERM) saves a
resumable checkpoint; the same seed on CPU gives identical metrics; provenance is recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hydra.errors import InstantiationException
from training_helpers import compose_config as compose_run

from brainenc.training import train

REPO = Path(__file__).resolve().parents[2]


def quick_overrides(root: Path, cache: Path) -> list[str]:
    return [
        "data=insilico",
        f"paths.root_dir={root}",
        f"paths.dataset_dir={root / 'datasets'}",
        f"data.build.cache_dir={cache}",
        "data.build.insilico.scale=test",
        "data.build.insilico.mice=[A,B]",
        "+data.build.mice={A:[501729039]}",
        "data.build.clip_frames=48",
        "data.build.normalisation=viv1t",
        "data.build.figures=false",
        "data.batch_size=8",
        "data.mouse_ids=[A]",
        "model=tiny",
        "model.core.spatial_patch_stride=4",
        "model.output_activation=softplus",
        "trainer=cpu",
        "logger=none",
        "callbacks.progress_bar.refresh_rate=0",
        "trainer.enable_model_summary=false",
        "peft=none",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=3",
    ]


@pytest.fixture(autouse=True)
def _no_wandb(monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["peft=lora8_fused", "peft.r=0"], "peft.r must be an integer >= 1"),
        (["peft=lora", "peft.target_modules=[qkv_typo]"], "unknown LoRA target.*valid"),
        (["optim.optimizer.lr=-1e-3"], "optim.optimizer.lr must be a positive number"),
        (["data.build.clip_frames=0"], "clip_frames"),
        (["data.build.movies=[natural_movie_four]"], "natural_movie_one.*natural_movie_four"),
    ],
    ids=["lora-rank-0", "unknown-lora-target", "negative-lr", "clip-length-0", "unknown-movie"],
)
def test_bad_setting_fails_before_any_data_is_built(overrides, message, insilico_cache, tmp_path):
    cfg = compose_run([*quick_overrides(tmp_path, insilico_cache), *overrides], tmp_path / "run")
    with pytest.raises((ValueError, InstantiationException), match=message):
        train(cfg)
    assert not (tmp_path / "datasets").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.mouse_ids=[Z]"], r"mouse_ids.*'Z'.*valid.*A"),
        (["data.build.clip_frames=20"], r"clip_frames=20.*at least 25"),
    ],
    ids=["unknown-mouse-id", "clip-shorter-than-the-model-context"],
)
def test_bad_data_setting_fails_before_any_data_is_built(
    overrides, message, insilico_cache, tmp_path
):
    cfg = compose_run([*quick_overrides(tmp_path, insilico_cache), *overrides], tmp_path / "run")
    with pytest.raises(ValueError, match=message):
        train(cfg)
    assert not (tmp_path / "datasets").exists()


@pytest.fixture(scope="module")
def data_root(tmp_path_factory, insilico_cache) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("runs")
    return root, quick_overrides(root, insilico_cache)


@pytest.mark.slow
def test_same_seed_gives_identical_metrics_and_provenance(data_root):
    root, overrides = data_root
    runs = [train(compose_run([*overrides, "seed=7"], root / f"run{i}")) for i in range(2)]
    (first, _), (second, _) = runs
    numbers = {k: v for k, v in first.items() if isinstance(v, float)}
    assert numbers and numbers == {k: second[k] for k in numbers}
    provenance = json.loads((root / "run0" / "provenance.json").read_text())
    assert provenance["seed"] == 7
    assert provenance["package_versions"]["torch"] == torch.__version__.split("+")[0] or (
        provenance["package_versions"]["torch"] == torch.__version__
    )
    assert len(provenance["git_commit"]) == 40
    manifest = root / "datasets"
    digests = provenance["data_manifests"]
    assert set(digests) == {"A"} and len(digests["A"]) == 64
    found = [p for p in manifest.rglob("manifest.json") if p.parent.name == "A"]
    assert hashlib.sha256(found[0].read_bytes()).hexdigest() == digests["A"]


@pytest.mark.slow
def test_finished_run_directory_is_never_overwritten(data_root):
    root, overrides = data_root
    run_dir = root / "finished"
    train(compose_run(overrides, run_dir))
    before = (run_dir / "metrics.json").read_bytes()
    with pytest.raises(FileExistsError, match=str(run_dir)):
        train(compose_run([*overrides, "seed=3"], run_dir))
    assert (run_dir / "metrics.json").read_bytes() == before


@pytest.mark.slow
def test_nan_loss_stops_the_run_with_a_message(data_root):
    root, overrides = data_root
    cfg = compose_run([*overrides, "optim.optimizer.lr=1e30"], root / "nan")
    with pytest.raises(Exception, match=r"(?i)nan|not finite"):
        train(cfg)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_preempted_run_saves_a_resumable_checkpoint(sig, data_root, tmp_path):
    root, overrides = data_root
    run_dir = tmp_path / "run"
    args = [o for o in overrides if "limit_train_batches" not in o and "max_epochs" not in o]
    command = [
        sys.executable,
        str(REPO / "train.py"),
        *args,
        "trainer.max_epochs=50",
        "evaluation.test=false",
        f"hydra.run.dir={run_dir}",
        f"paths.output_dir={run_dir}",
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (run_dir / "trainable.json").exists():
        time.sleep(0.2)
    time.sleep(3)
    process.send_signal(sig)
    output, _ = process.communicate(timeout=300)
    checkpoint = run_dir / "checkpoints" / "interrupted.ckpt"
    assert checkpoint.is_file(), output[-3000:]
    step = torch.load(checkpoint, weights_only=True)["global_step"]
    assert step > 0 and f"resume with ckpt_path={checkpoint}" in output
    resumed = compose_run(
        [
            *args,
            "trainer.max_epochs=50",
            "+trainer.max_steps=" + str(step + 2),
            f"ckpt_path={checkpoint}",
            "evaluation.test=false",
        ],
        tmp_path / "resumed",
    )
    _, objects = train(resumed)
    assert objects["trainer"].global_step == step + 2
