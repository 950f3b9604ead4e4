"""Build datasets: `python -m brainenc.data.build [data=insilico|allen|nwb] [data.build.X=...]`.

`build_dataset(config, root)` is the plain function behind the command; `BrainDataModule`
calls it from `prepare_data` when a mouse folder is missing. Per mouse it reads the sessions
through allensdk, merges sessions of one mouse (shared neurons, all repeats), cuts clips,
imputes missing values and computes statistics on the training split, normalises, and writes
the folder atomically. A mouse whose folder was built with the same settings is skipped; one
built with other settings is replaced only with `overwrite=true`. One build at a time writes
into a dataset root (`writer.build_lock`): a second one waits, then finds the mice built.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from brainenc.data.allen import check_session_type, read_recording
from brainenc.data.config import BuildConfig, config_digest
from brainenc.data.created_folders import removed_on_failure
from brainenc.data.errors import DatasetExistsError, DatasetIntegrityError
from brainenc.data.mouse_folder import MANIFEST, SPLITS, read_manifest
from brainenc.data.recording import shared_neurons
from brainenc.data.samples import SampleSet, assemble_samples
from brainenc.data.session_checks import check_build_arrays
from brainenc.data.sources import MousePlan, SessionLocator
from brainenc.data.statistics import compute_statistics, impute_missing
from brainenc.data.writer import build_lock, sweep_stale, write_mouse

log = logging.getLogger(__name__)


def build_dataset(config: BuildConfig | Mapping[str, Any], root: str | Path) -> Path:
    """Build every configured mouse under `root` (one folder per mouse); returns `root`."""
    config = BuildConfig.from_mapping(config)
    root = Path(root)
    cache_dir = [config.cache_dir] if config.cache_dir else []
    with removed_on_failure(root, *cache_dir):
        root.mkdir(parents=True, exist_ok=True)
        _build_into(config, root)
    return root


def _build_into(config: BuildConfig, root: Path) -> None:
    with build_lock(root):
        for leftover in sweep_stale(root):
            log.warning("cleaned up after an interrupted build: %s", leftover)
        locator = SessionLocator(config)
        for plan in locator.plans():
            identity = config.mouse_identity(list(plan.sessions))
            target = root / plan.mouse_id
            if _up_to_date(target, identity, config.overwrite):
                log.info(
                    "mouse %s is up to date at %s (same settings); nothing to do",
                    plan.mouse_id,
                    target,
                )
                continue
            samples = build_mouse(plan, locator, config, target, identity)
            counts = describe_counts(samples.counts(), samples.responses.shape[1])
            log.info("mouse %s -> %s: %s", plan.mouse_id, target, counts)


def build_mouse(
    plan: MousePlan,
    locator: SessionLocator,
    config: BuildConfig,
    target: Path,
    identity: dict[str, Any],
) -> SampleSet:
    """Read, cut, impute, normalise and write one mouse; returns its (raw) samples."""
    recordings = []
    for path in locator.session_files(plan):
        recording = read_recording(
            path,
            config.movies,
            config.frame_size,
            config.pupil_units,
            config.allow_missing_eye_tracking,
        )
        check_session_type(recording, config.selection.session_types)
        recordings.append(recording)
    recordings = shared_neurons(recordings)
    samples = assemble_samples(recordings, config.movies, config.clip_frames, config.splits)
    ids = [str(c) for c in recordings[0].cell_specimen_ids]
    names = {
        "behavior": ["pupil_size", "running_speed"],
        "pupil_center": ["pupil_x", "pupil_y"],
        "responses": [f"cell specimen {c}" for c in ids],
    }
    sources = ", ".join(str(r.source) for r in recordings)
    samples, imputation = impute_missing(samples, names, sources)
    statistics = compute_statistics(samples, config.normalisation)
    check_build_arrays(
        {name: getattr(samples, name) for name in ("behavior", "pupil_center", "responses")},
        statistics,
        sources,
    )
    write_mouse(
        target, plan.mouse_id, recordings, samples, statistics, imputation, config, identity
    )
    return samples


def describe_counts(counts: dict[str, dict[str, int]], neurons: int) -> str:
    """E.g. '217 train (natural_movie_one 42, natural_movie_three 175), 31 validation, ...'."""
    parts = []
    for split in SPLITS:
        per_movie = counts[split]
        movies = ", ".join(f"{m} {n}" for m, n in per_movie.items() if m != "total")
        parts.append(f"{per_movie['total']} {split} ({movies})")
    return ", ".join(parts) + f"; {neurons} neurons"


def _up_to_date(target: Path, identity: dict[str, Any], overwrite: bool) -> bool:
    if not target.exists():
        return False
    try:
        built = read_manifest(target).get("identity_sha256")
    except DatasetIntegrityError:
        built = None
    if built == config_digest(identity):
        return True
    if not overwrite:
        raise DatasetExistsError(
            f"{target} holds a dataset built with different settings (or an incomplete one). "
            "Pass data.build.overwrite=true to replace it, or choose another data.root."
        )
    return False


def main() -> None:
    """Hydra entry point (`build.yaml` of :mod:`brainenc.conf`, group `data`)."""
    import hydra
    from omegaconf import DictConfig

    from brainenc.conf import CONFIG_DIR

    @hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="build")
    def run(cfg: DictConfig) -> None:
        root = build_dataset(cfg.data.build, cfg.data.root)
        for folder in sorted(p for p in root.iterdir() if (p / MANIFEST).is_file()):
            manifest = read_manifest(folder)
            print(f"{folder}: {describe_counts(manifest['counts'], manifest['neurons'])}")

    run()


if __name__ == "__main__":
    main()
