"""`BrainDataModule`: train/validation/test loaders over one or several mice.

Under data parallelism every process reads its own share of each split (`MouseBatchSampler`
with the trainer's world size and rank). The training loader's position (`MouseLoader`) is saved
in checkpoints as the data module's state, so a run resumed mid-epoch continues with the batches
it had not trained on. (Lightning's own restore of loader states is skipped when the training
loader was built before the restore, as ``trainer.estimated_stepping_batches`` does.)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import ConcatDataset, DataLoader
from torch.utils.data.dataloader import _BaseDataLoaderIter

from brainenc.data.config import BuildConfig, config_digest
from brainenc.data.dataset import MouseDataset
from brainenc.data.errors import DatasetExistsError
from brainenc.data.mouse_folder import MANIFEST, SPLITS, read_manifest
from brainenc.data.sampler import MouseBatchSampler
from brainenc.data.sensorium import is_sensorium_folder
from brainenc.models import MouseSpec


class BrainDataModule(L.LightningDataModule):
    """Loaders over the mice of a dataset root; each batch holds samples of one mouse.

    Parameters
    ----------
    root
        Folder holding one folder per mouse (built by `brainenc.data.build`, or Sensorium 2023
        recordings).
    mouse_ids
        Mice to use: a list of folder names, a mapping mouse id -> folder name (e.g. to give
        Sensorium folders the letters of a checkpoint), or None for every mouse in `root`.
    build
        Build settings (`conf/data/*.yaml`, node `build`); missing mice are built by
        `prepare_data`. None for ready-made folders.
    batch_size, eval_batch_size
        Samples per training / evaluation batch (evaluation defaults to `batch_size`).
    num_workers, pin_memory, persistent_workers
        Passed to every `DataLoader`.
    train_mice_sampling
        "proportional", "balanced" or "sequential" (see `MouseBatchSampler`).
    verify
        Integrity check of each mouse folder, once, when the training split opens: "cached"
        (sha256 of the files changed since last verified), "hash", "size" or "none".
    crop_frames
        Random training window length for samples longer than it (Sensorium trials).
    """

    def __init__(
        self,
        root: str | Path,
        mouse_ids: list[str] | Mapping[str, str] | None = None,
        build: BuildConfig | Mapping[str, Any] | None = None,
        batch_size: int = 1,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        train_mice_sampling: str = "proportional",
        verify: str = "cached",
        crop_frames: int | None = None,
    ):
        super().__init__()
        self.root = Path(root)
        self.mouse_ids = _mouse_folders(mouse_ids)
        self.build = BuildConfig.from_mapping(build) if build is not None else None
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.loader_options = {
            "num_workers": num_workers,
            "pin_memory": pin_memory,
            "persistent_workers": persistent_workers and num_workers > 0,
        }
        self.train_mice_sampling = train_mice_sampling
        self.verify = verify
        self.crop_frames = crop_frames
        self.datasets: dict[str, dict[str, MouseDataset]] = {}
        self.train_loader: MouseLoader | None = None
        self.train_position: dict[str, int] | None = None

    def prepare_data(self) -> None:
        """Build the dataset when a mouse folder is missing or was built with other settings."""
        if self.build is None or not self._needs_build():
            return
        from brainenc.data.build import build_dataset

        build_dataset(self.build, self.root)

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        folders = self.mouse_ids or {p.name: p.name for p in _mouse_dirs(self.root)}
        if not folders:
            raise FileNotFoundError(
                f"no mouse folder in {self.root}. Build the dataset with "
                "`python -m brainenc.data.build` or set data.root to the folder holding the mice."
            )
        for split in SPLITS:
            self.datasets[split] = {
                mouse: MouseDataset(
                    self.root / folder,
                    split=split,
                    mouse_id=mouse,
                    verify=self.verify if split == "train" else "none",
                    crop_frames=self.crop_frames if split == "train" else None,
                )
                for mouse, folder in folders.items()
            }

    @property
    def mice(self) -> dict[str, MouseSpec]:
        """Per mouse: neuron (x, y) coordinates (N, 2) and mean normalised training response (N,)."""
        if not self.datasets:
            self.setup()
        return {
            mouse: MouseSpec(
                neuron_coordinates=torch.as_tensor(dataset.coordinates[:, :2], dtype=torch.float32),
                mean_responses=torch.as_tensor(dataset.mean_responses, dtype=torch.float32),
            )
            for mouse, dataset in self.datasets["train"].items()
        }

    def train_dataloader(self) -> MouseLoader:
        self.train_loader = self._loader("train", self.batch_size, True, self.train_mice_sampling)
        if self.train_position is not None:
            self.train_loader.load_state_dict(self.train_position)
            self.train_position = None
        return self.train_loader

    def state_dict(self) -> dict[str, Any]:
        """``{"train_loader": ...}``: the training loader's position, once there is one."""
        if self.train_loader is None:
            return {}
        return {"train_loader": self.train_loader.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume the next training loader at the saved position."""
        self.train_position = state_dict.get("train_loader")

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", self.eval_batch_size, False, "sequential")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, False, "sequential")

    def _loader(self, split: str, batch_size: int, shuffle: bool, mode: str) -> MouseLoader:
        if not self.datasets:
            self.setup()
        parts = list(self.datasets[split].values())
        trainer = self.trainer
        sampler = MouseBatchSampler(
            [len(p) for p in parts],
            batch_size,
            shuffle,
            mode,
            num_replicas=trainer.world_size if trainer is not None else 1,
            rank=trainer.global_rank if trainer is not None else 0,
            even_shares=split == "train",
        )
        if sampler.total_batches() < sampler.num_replicas:
            raise ValueError(
                f"the {split} split of {self.root} has {sampler.total_batches()} batches of up to "
                f"{batch_size} samples for {sampler.num_replicas} processes, and every process "
                "needs one: lower data.batch_size / data.eval_batch_size or use fewer devices."
            )
        return MouseLoader(ConcatDataset(parts), sampler, self.loader_options)

    def _needs_build(self) -> bool:
        expected = list((self.mouse_ids or {}).values()) or list(self.build.mice)
        folders = [self.root / m for m in expected] or _mouse_dirs(self.root)
        if not folders or not all((f / MANIFEST).is_file() for f in folders):
            return True
        wanted = config_digest(self.build.processing())
        stale = [f.name for f in folders if read_manifest(f).get("processing_sha256") != wanted]
        if stale and not self.build.overwrite:
            raise DatasetExistsError(
                f"mice {stale} in {self.root} were built with other settings than data.build. "
                "Rebuild with data.build.overwrite=true, or point data.root elsewhere."
            )
        return bool(stale)


class MouseLoader(DataLoader):
    """A `DataLoader` over a `MouseBatchSampler` whose position Lightning saves in checkpoints.

    ``state_dict()`` is ``{"epoch", "batches", "num_replicas"}``: the epoch and how many of this
    rank's batches of it were delivered (with workers too: prefetched batches are not counted).
    Its own generator seeds the workers, so creating an iterator leaves torch's global RNG alone.
    """

    def __init__(
        self, dataset: ConcatDataset, batch_sampler: MouseBatchSampler, options: dict[str, Any]
    ) -> None:
        generator = torch.Generator().manual_seed(batch_sampler.seed)
        super().__init__(dataset, batch_sampler=batch_sampler, generator=generator, **options)
        self.live: _BaseDataLoaderIter | None = None
        self.start = 0

    def __iter__(self) -> _BaseDataLoaderIter:
        self.start = self.batch_sampler.skip
        self.live = super().__iter__()
        return self.live

    def state_dict(self) -> dict[str, int]:
        sampler = self.batch_sampler
        delivered = self.live._num_yielded if self.live is not None else 0
        return {
            "epoch": sampler.epoch,
            "batches": self.start + delivered,
            "num_replicas": sampler.num_replicas,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        sampler = self.batch_sampler
        if state["num_replicas"] != sampler.num_replicas:
            raise ValueError(
                f"the checkpoint was saved by a run on {state['num_replicas']} processes, this "
                f"one has {sampler.num_replicas}: resume mid-epoch with the same trainer.devices "
                "and trainer.num_nodes, or from an end-of-epoch checkpoint (last.ckpt)."
            )
        epoch, batches = int(state["epoch"]), int(state["batches"])
        if batches == len(sampler):  # saved after the epoch's last batch: start the next one
            epoch, batches = epoch + 1, 0
        sampler.resume(epoch, batches)


def _mouse_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and ((p / MANIFEST).is_file() or is_sensorium_folder(p))
    )


def _mouse_folders(mouse_ids: list[str] | Mapping[str, str] | None) -> dict[str, str]:
    if mouse_ids is None:
        return {}
    if isinstance(mouse_ids, Mapping):
        return {str(k): str(v) for k, v in mouse_ids.items()}
    return {str(m): str(m) for m in mouse_ids}
