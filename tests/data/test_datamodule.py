"""BrainDataModule over built in-silico mice: prepare_data builds, loaders, model facts."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from brainenc.data.datamodule import BrainDataModule
from brainenc.data.errors import DatasetExistsError
from brainenc.models import MouseSpec

MICE = {"501729039": 20, "501773889": 18}  # in-silico mice A and B at the test scale


def settings(cache_dir, **extra) -> dict:
    return {
        "source": "insilico",
        "cache_dir": str(cache_dir),
        "insilico": {"scale": "test", "mice": ["A", "B"]},
        "figures": False,
        **extra,
    }


@pytest.fixture(scope="module")
def datamodule(insilico_cache, tmp_path_factory) -> BrainDataModule:
    root = tmp_path_factory.mktemp("datamodule") / "dataset"
    dm = BrainDataModule(root, build=settings(insilico_cache), batch_size=4, eval_batch_size=5)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_prepare_data_builds_missing_mice_once(datamodule):
    assert sorted(p.name for p in datamodule.root.iterdir()) == sorted(MICE)
    stamp = (datamodule.root / "501729039" / "manifest.json").stat().st_mtime_ns
    datamodule.prepare_data()
    assert (datamodule.root / "501729039" / "manifest.json").stat().st_mtime_ns == stamp


def test_train_batches_come_from_one_mouse_and_cover_every_sample(datamodule):
    torch.manual_seed(0)
    seen = {mouse: [] for mouse in MICE}
    batches = list(datamodule.train_dataloader())
    assert len(batches) == 2 * 9  # 35 training samples per mouse in batches of 4
    for batch in batches:
        mouse = batch["mouse_id"][0]
        assert set(batch["mouse_id"]) == {mouse}
        size = len(batch["mouse_id"])
        assert batch["video"].shape == (size, 1, 140, 36, 64)
        assert batch["behavior"].shape == (size, 2, 140)
        assert batch["pupil_center"].shape == (size, 2, 140)
        assert batch["responses"].shape == (size, MICE[mouse], 140)
        assert batch["video"].dtype == torch.float32 and batch["clip"].dtype == torch.int64
        seen[mouse] += list(
            zip(batch["movie"], batch["repeat"].tolist(), batch["clip"].tolist(), strict=True)
        )
    for mouse in MICE:
        assert len(seen[mouse]) == len(set(seen[mouse])) == 35
        assert {repeat for _, repeat, _ in seen[mouse]} == set(range(7))


def test_evaluation_loaders_are_sequential_per_mouse(datamodule):
    validation = list(datamodule.val_dataloader())
    mice = [b["mouse_id"][0] for b in validation]
    assert mice == ["501729039"] + ["501773889"]  # 5 validation samples each, batches of 5
    test = list(datamodule.test_dataloader())
    assert [len(b["mouse_id"]) for b in test] == [5, 5, 5, 5]
    assert all((b["repeat"] >= 8).all() for b in test)


def test_mice_give_readout_facts(datamodule):
    mice = datamodule.mice
    assert sorted(mice) == sorted(MICE)
    for mouse, spec in mice.items():
        assert isinstance(spec, MouseSpec)
        dataset = datamodule.datasets["train"][mouse]
        assert spec.neuron_coordinates.shape == (MICE[mouse], 2)
        np.testing.assert_allclose(spec.neuron_coordinates.numpy(), dataset.coordinates[:, :2])
        train = torch.stack([dataset[i]["responses"] for i in range(len(dataset))])
        torch.testing.assert_close(
            spec.mean_responses, train.mean(dim=(0, 2)), rtol=1e-4, atol=1e-5
        )


def test_other_processing_settings_are_refused_without_overwrite(datamodule, insilico_cache):
    other = BrainDataModule(datamodule.root, build=settings(insilico_cache, normalisation="viv1t"))
    with pytest.raises(DatasetExistsError, match="data.build.overwrite=true"):
        other.prepare_data()


def test_serving_never_imports_allensdk(datamodule, insilico_cache):
    script = textwrap.dedent(
        f"""
        import sys
        from brainenc.data import BrainDataModule
        dm = BrainDataModule({str(datamodule.root)!r}, build={settings(insilico_cache)!r})
        dm.prepare_data()
        batch = next(iter(dm.train_dataloader()))
        assert "allensdk" not in sys.modules, "serving imported allensdk"
        print(sorted(dm.mice), tuple(batch["responses"].shape))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "['501729039', '501773889']" in result.stdout
