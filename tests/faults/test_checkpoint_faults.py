"""Checkpoints and adapters never unpickle code without trust=True, and a checkpoint for another
architecture or neuron count fails naming the mismatching keys.

Each malicious file holds an object whose ``__reduce__`` creates a marker file when unpickled; the
marker must not exist after the refused load. tests/models/test_checkpoint.py covers the authors'
layout with a callable in the scheduler entry; here the other entry points a user or the training
code reaches: a bare state dict, a Lightning resume checkpoint, a continuation, heads.pt and a
peft adapter_model.bin.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from lightning.fabric.utilities.cloud_io import _load as lightning_load

from brainenc.conf import CONFIG_DIR as CONF_DIR
from brainenc.models import MouseSpec, load_checkpoint, save_checkpoint
from brainenc.models.checkpoint import CheckpointError, read_checkpoint


class CreatesMarker:
    """Unpickling this creates ``marker`` (stands in for any code an attacker wants run)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def build(name: str, neurons: dict[str, int], **core) -> torch.nn.Module:
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        config = compose(overrides=[f"+model={name}"]).model
    for key, value in core.items():
        config.core[key] = value
    torch.manual_seed(0)
    mice = {m: MouseSpec(torch.rand(n, 2) * 400, torch.rand(n)) for m, n in neurons.items()}
    return instantiate(config)(mice=mice)


@pytest.fixture(scope="module")
def tiny() -> torch.nn.Module:
    return build("tiny", {"A": 9})


def test_payload_really_runs_when_trusted(tiny, tmp_path):
    marker, path = tmp_path / "executed", tmp_path / "trusted.pt"
    torch.save({"model": tiny.state_dict(), "extra": CreatesMarker(marker)}, path)
    read_checkpoint(path, trust=True)
    assert marker.exists()  # so the refusals below prove something


def test_callable_in_a_bare_state_dict_is_refused(tiny, tmp_path):
    marker, path = tmp_path / "executed", tmp_path / "bare.pt"
    torch.save({**tiny.state_dict(), "core.hook": CreatesMarker(marker)}, path)
    with pytest.raises(CheckpointError, match=rf"{path}.*could execute code.*trust=True"):
        load_checkpoint(tiny, path)
    assert not marker.exists()


def test_raw_pickle_file_is_refused(tiny, tmp_path):
    marker, path = tmp_path / "executed", tmp_path / "model_state.pt"
    path.write_bytes(pickle.dumps({"model": CreatesMarker(marker)}))
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(tiny, path)
    assert not marker.exists()


def test_lightning_resume_checkpoint_with_a_callable_is_refused(tiny, tmp_path):
    """``trainer.fit(ckpt_path=...)`` reads through this loader (weights_only by default)."""
    marker, path = tmp_path / "executed", tmp_path / "last.ckpt"
    torch.save({"state_dict": tiny.state_dict(), "callbacks": {"x": CreatesMarker(marker)}}, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        lightning_load(path)
    assert not marker.exists()


def test_continuation_checkpoint_with_a_callable_is_refused(tiny, tmp_path):
    from brainenc.training.initial_weights import load_continuation

    marker, path = tmp_path / "executed", tmp_path / "best.ckpt"
    state = {f"model.{k}": v for k, v in tiny.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": CreatesMarker(marker)}, path)
    with pytest.raises(Exception, match=str(path)):
        load_continuation(tiny, path)
    assert not marker.exists()


@pytest.fixture
def adapter_folder(tmp_path) -> tuple[Path, torch.nn.Module]:
    from peft import LoraConfig, get_peft_model

    from brainenc.runs.artifacts import head_state_dict

    model = build("tiny", {"A": 9})
    target = next(n for n, m in model.core.named_modules() if isinstance(m, torch.nn.Linear))
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=[f"core.{target}"]))
    folder = tmp_path / "adapter"
    peft_model.save_pretrained(folder)
    torch.save(head_state_dict(model), folder / "heads.pt")
    return folder, build("tiny", {"A": 9})


def test_adapter_folder_loads(adapter_folder):
    from brainenc.runs.artifacts import load_adapter

    folder, fresh = adapter_folder
    assert (folder / "adapter_model.safetensors").is_file()
    loaded = load_adapter(fresh, folder)
    assert any("lora_A" in k for k in loaded.state_dict())


def test_heads_with_a_callable_are_refused(adapter_folder, tmp_path):
    from brainenc.runs.artifacts import load_adapter

    folder, fresh = adapter_folder
    marker = tmp_path / "executed"
    heads = torch.load(folder / "heads.pt", weights_only=True)
    torch.save({**heads, "hook": CreatesMarker(marker)}, folder / "heads.pt")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_adapter(fresh, folder)
    assert not marker.exists()


def test_pickled_adapter_bin_is_refused(adapter_folder, tmp_path):
    """A .bin adapter (no safetensors) is read by peft; it must be weights_only."""
    from safetensors.torch import load_file

    from brainenc.runs.artifacts import load_adapter

    folder, fresh = adapter_folder
    marker = tmp_path / "executed"
    weights = load_file(folder / "adapter_model.safetensors")
    (folder / "adapter_model.safetensors").unlink()
    torch.save({**weights, "hook": CreatesMarker(marker)}, folder / "adapter_model.bin")
    with pytest.raises(pickle.UnpicklingError):
        load_adapter(fresh, folder)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            lambda: build("tiny", {"A": 12}),
            r"shape mismatches.*readouts\.A\.\S+: checkpoint \(\S*9\S*\) vs model \(\S*12",
        ),
        (lambda: build("tiny", {"B": 9}), r"checkpoint-only mice \['A'\], model-only mice \['B'\]"),
        (lambda: build("tiny", {"A": 9}, spatial_depth=2), r"missing keys \(\d+\): core\.\S+"),
        (lambda: build("viv1t", {"A": 9}), r"(missing keys|shape mismatches) \(\d+\): core\."),
    ],
    ids=["other-neuron-count", "other-mouse", "deeper-core", "other-architecture"],
)
def test_checkpoint_for_another_model_names_the_keys(model, message, tiny, tmp_path):
    path = save_checkpoint(tiny, tmp_path / "model_state.pt", epoch=1, value=0.2)
    target = model()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointError, match=rf"(?s){path} does not fit the model.*{message}"):
        load_checkpoint(target, path)
    after = target.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing half-loaded


def test_truncated_checkpoint_names_the_file(tiny, tmp_path):
    path = save_checkpoint(tiny, tmp_path / "model_state.pt", epoch=1, value=0.2)
    shutil.copyfile(path, tmp_path / "copy.pt")
    path.write_bytes((tmp_path / "copy.pt").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=rf"{path} cannot be read \(corrupted or truncated"):
        load_checkpoint(tiny, path)
