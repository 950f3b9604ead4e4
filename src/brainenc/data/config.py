"""Settings of the dataset build (`conf/data/*.yaml`, node `build`), validated once.

`BuildConfig.from_mapping` turns the Hydra node (or any mapping) into frozen dataclasses and
rejects unknown keys and impossible values with a message naming the setting.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from brainenc.data.errors import ConfigError
from brainenc.data.mouse_folder import SPLITS

SOURCES = ("insilico", "allen", "nwb")
NORMALISATIONS = ("seed", "viv1t")
PUPIL_UNITS = ("spherical", "cm")
MOVIES = ("natural_movie_one", "natural_movie_two", "natural_movie_three")
MOUSE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
FOLDER_SUFFIX_PATTERN = re.compile(r"^[A-Za-z0-9_-]*$")
SPLIT_KINDS = ("repeat", "clip")
SPLIT_SETTINGS = {
    "repeat": SPLITS,
    "clip": ("folds", "test_fold", "validation_fold"),
}


@dataclass(frozen=True)
class SelectionConfig:
    """Filters passed to `BrainObservatoryCache.get_ophys_experiments` when no mice are listed."""

    session_types: tuple[str, ...] = ("three_session_A",)
    require_eye_tracking: bool = True
    include_failed: bool = False
    targeted_structures: tuple[str, ...] | None = None
    imaging_depths: tuple[int, ...] | None = None
    cre_lines: tuple[str, ...] | None = None
    max_experiments: int | None = None


@dataclass(frozen=True)
class InsilicoConfig:
    """What `brainenc.insilico` writes when the in-silico cache directory does not exist.

    `profile` is the activity profile of the simulated mice (`brainenc.insilico.PROFILE_PRESETS`:
    ``realistic``, calibrated to real data, or ``clean``); conf/data/insilico.yaml puts it and
    the seed into the cache and dataset folder names, so mice of one never reuse the other's files.
    """

    scale: str = "demo"
    seed: int = 0
    mice: tuple[str, ...] = ("A", "B", "C")
    profile: str = "realistic"


def clip_folds(n_clips: int, folds: int) -> np.ndarray:
    """Fold of every clip of one movie: `folds` contiguous blocks, (n_clips,) int64.

    Blocks follow `np.array_split`: the first `n_clips % folds` blocks hold one clip more, e.g.
    10 clips in 5 folds -> [0, 0, 1, 1, 2, 2, 3, 3, 4, 4], 7 in 3 -> [0, 0, 0, 1, 1, 2, 2].
    Neighbouring clips continue one another's scene; contiguous blocks keep them in one fold, so
    a held-out clip meets training clips only at the `folds - 1` block borders of each movie.
    """
    if folds < 1 or n_clips < folds:
        raise ValueError(f"cannot cut {n_clips} clips into {folds} non-empty folds.")
    size, longer = divmod(n_clips, folds)
    return np.repeat(np.arange(folds), [size + (f < longer) for f in range(folds)])


@dataclass(frozen=True)
class SplitConfig:
    """Which samples form the train, validation and test splits (`conf/split/*.yaml`).

    by="repeat" (the seed's): `train`, `validation` and `test` list 0-based repeat indices within
    each session; every clip is in every split. by="clip": each movie's clips are cut into `folds`
    contiguous blocks (`clip_folds`) and every repeat of a clip goes to the split of its block:
    test for `test_fold`, validation for `validation_fold` (None: the next block, cyclically),
    training otherwise, so models are scored on movie clips they never saw. The settings of the
    other `by` are unused. `tag` only names the dataset folder (`data.root` in conf/data).
    """

    by: str = "repeat"
    train: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    validation: tuple[int, ...] = (7,)
    test: tuple[int, ...] = (8, 9)
    folds: int = 5
    test_fold: int = 0
    validation_fold: int | None = None
    tag: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SplitConfig:
        """Validate `data.build.splits`, refusing settings of the other `by`."""
        _reject_unknown(values, cls, "data.build.splits")
        by = values.get("by", "repeat")
        _choice("data.build.splits.by", by, SPLIT_KINDS)
        other = "clip" if by == "repeat" else "repeat"
        foreign = sorted(set(values) & set(SPLIT_SETTINGS[other]))
        if foreign:
            raise ConfigError(
                f"data.build.splits: {foreign} do not apply to by={by}. Remove them, or choose "
                "the other kind of split (split=by_repeat or split=by_clip)."
            )
        config = cls(**_tuples(values))
        config.validate()
        return config

    @property
    def resolved_validation_fold(self) -> int:
        """The validation fold of by="clip", with None resolved to (test_fold + 1) % folds."""
        if self.validation_fold is None:
            return (self.test_fold + 1) % self.folds
        return self.validation_fold

    def split_of(self, repeat: int, clip: int, n_clips: int) -> str | None:
        """Split of the sample showing `clip` (of `n_clips`) in session `repeat`; None: unused."""
        if self.by == "repeat":
            return next((name for name in SPLITS if repeat in getattr(self, name)), None)
        fold = clip_folds(n_clips, self.folds)[clip]
        if fold == self.test_fold:
            return "test"
        return "validation" if fold == self.resolved_validation_fold else "train"

    def settings(self) -> dict[str, Any]:
        """The settings that decide the split, JSON-able (part of the dataset identity).

        by="repeat" gives the three repeat lists alone, as before `by` existed, so that folders
        built then keep their identity.
        """
        if self.by == "repeat":
            return {name: list(getattr(self, name)) for name in SPLIT_SETTINGS["repeat"]}
        return {
            "by": self.by,
            "folds": self.folds,
            "test_fold": self.test_fold,
            "validation_fold": self.resolved_validation_fold,
        }

    def validate(self) -> None:
        """Raise `ConfigError` for the first impossible split setting."""
        _choice("data.build.splits.by", self.by, SPLIT_KINDS)
        if not FOLDER_SUFFIX_PATTERN.match(self.tag):
            raise ConfigError(
                f"data.build.splits.tag names a folder: only letters, digits, '_' and '-', "
                f"got '{self.tag}'."
            )
        if self.by == "repeat":
            _check_repeat_splits(self)
            return
        if not _is_int(self.folds) or self.folds < 3:
            raise ConfigError(
                f"data.build.splits.folds must be an integer >= 3 (a test fold, a validation "
                f"fold and at least one training fold), got {self.folds}."
            )
        for name in ("test_fold", "validation_fold"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or not 0 <= value < self.folds):
                raise ConfigError(
                    f"data.build.splits.{name} must be in 0..{self.folds - 1}, got {value}."
                )
        if self.resolved_validation_fold == self.test_fold:
            raise ConfigError(
                f"data.build.splits.validation_fold must differ from test_fold "
                f"({self.test_fold}); leave it null for the next fold."
            )


@dataclass(frozen=True)
class BuildConfig:
    """Everything that decides the content of a built dataset.

    `mice` maps a mouse id to its sessions: experiment ids (sources `insilico`, `allen`) or NWB
    paths (source `nwb`). Several sessions of one mouse are merged (repeats of the movies they
    share, neurons present in all of them). When `mice` is empty, `selection` picks experiments
    from the cache and each becomes its own mouse, named by its experiment id.
    """

    source: str = "insilico"
    cache_dir: str = "outputs/allen_cache"
    mice: dict[str, tuple[int | str, ...]] = field(default_factory=dict)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    insilico: InsilicoConfig = field(default_factory=InsilicoConfig)
    movies: tuple[str, ...] = ("natural_movie_one", "natural_movie_three")
    clip_frames: int = 140
    frame_size: tuple[int, int] = (36, 64)
    splits: SplitConfig = field(default_factory=SplitConfig)
    normalisation: str = "seed"
    pupil_units: str = "spherical"
    allow_missing_eye_tracking: bool = False
    figures: bool = True
    overwrite: bool = False

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | BuildConfig) -> BuildConfig:
        """Validate a (Hydra or plain) mapping of build settings."""
        if isinstance(mapping, BuildConfig):
            return mapping
        values = _plain(mapping)
        _reject_unknown(values, cls, "data.build")
        nested = {"selection": SelectionConfig, "insilico": InsilicoConfig}
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if name == "splits":
                kwargs[name] = SplitConfig.from_mapping(value or {})
            elif name in nested:
                _reject_unknown(value or {}, nested[name], f"data.build.{name}")
                kwargs[name] = nested[name](**_tuples(value or {}))
            elif name == "mice":
                kwargs[name] = {str(k): tuple(_as_list(v)) for k, v in (value or {}).items()}
            else:
                kwargs[name] = tuple(value) if isinstance(value, list) else value
        config = cls(**kwargs)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise `ConfigError` for the first impossible setting."""
        _choice("data.build.source", self.source, SOURCES)
        _choice("data.build.normalisation", self.normalisation, NORMALISATIONS)
        _choice("data.build.pupil_units", self.pupil_units, PUPIL_UNITS)
        for movie in self.movies:
            _choice("data.build.movies", movie, MOVIES)
        if not self.movies or len(set(self.movies)) != len(self.movies):
            raise ConfigError(f"data.build.movies must list distinct movies, got {self.movies}.")
        if self.clip_frames < 1:
            raise ConfigError(f"data.build.clip_frames must be >= 1, got {self.clip_frames}.")
        if len(self.frame_size) != 2 or min(self.frame_size) < 1:
            raise ConfigError(
                f"data.build.frame_size must be [height, width], got {self.frame_size}."
            )
        self.splits.validate()
        if self.source == "insilico":
            from brainenc.insilico.presets import PROFILE_PRESETS

            _choice("data.build.insilico.profile", self.insilico.profile, tuple(PROFILE_PRESETS))
        for mouse_id, sessions in self.mice.items():
            check_mouse_id(mouse_id, "data.build.mice")
            if not sessions:
                raise ConfigError(f"data.build.mice.{mouse_id} lists no sessions.")
            if self.source != "nwb" and not all(str(s).isdigit() for s in sessions):
                raise ConfigError(
                    f"data.build.mice.{mouse_id} must list experiment ids for source "
                    f"'{self.source}', got {list(sessions)}; use source=nwb for file paths."
                )
        if self.source == "nwb" and not self.mice:
            raise ConfigError("source 'nwb' needs data.build.mice, e.g. {A: [/path/session.nwb]}.")
        limit = self.selection.max_experiments
        if limit is not None and limit < 1:
            raise ConfigError(f"data.build.selection.max_experiments must be >= 1, got {limit}.")

    def mouse_identity(self, sessions: list[str]) -> dict[str, Any]:
        """What makes one mouse's folder: its sessions, every processing setting, the figures."""
        return {
            "source": self.source,
            "sessions": sessions,
            "processing": self.processing(),
            "figures": self.figures,
        }

    def processing(self) -> dict[str, Any]:
        """Settings that change the arrays, independent of where the sessions come from."""
        keep = ("movies", "clip_frames", "frame_size", "splits", "normalisation", "pupil_units")
        values = {k: v for k, v in asdict(self).items() if k in keep}
        values["splits"] = self.splits.settings()
        values["allow_missing_eye_tracking"] = self.allow_missing_eye_tracking
        if self.source == "insilico":
            values["insilico"] = asdict(self.insilico)
        return json.loads(json.dumps(values))

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-able; `splits` holds only the settings of its `by`."""
        return json.loads(json.dumps({**asdict(self), "splits": self.splits.settings()}))


def config_digest(values: Mapping[str, Any]) -> str:
    """sha256 of a JSON-able mapping with sorted keys."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def check_mouse_id(mouse_id: str, setting: str) -> None:
    if not MOUSE_ID_PATTERN.match(mouse_id):
        raise ConfigError(
            f"{setting}: mouse id '{mouse_id}' must start with a letter or digit and contain only "
            "letters, digits, '_' and '-' (it names a folder and a model head)."
        )


def _check_repeat_splits(splits: SplitConfig) -> None:
    named = {name: getattr(splits, name) for name in SPLIT_SETTINGS["repeat"]}
    if not named["train"]:
        raise ConfigError("data.build.splits.train must list at least one repeat.")
    seen: dict[int, str] = {}
    for name, repeats in named.items():
        for repeat in repeats:
            if not _is_int(repeat) or repeat < 0:
                raise ConfigError(
                    f"data.build.splits.{name}: repeats are 0-based ints, got {repeat}."
                )
            if repeat in seen:
                raise ConfigError(
                    f"data.build.splits: repeat {repeat} is in both '{seen[repeat]}' and '{name}'."
                )
            seen[repeat] = name


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _choice(setting: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{setting} must be one of {list(allowed)}, got '{value}'.")


def _plain(mapping: Any) -> dict[str, Any]:
    if isinstance(mapping, DictConfig):
        return OmegaConf.to_container(mapping, resolve=True)  # type: ignore[return-value]
    if not isinstance(mapping, Mapping):
        raise ConfigError(
            f"data.build must be a mapping of settings, got {type(mapping).__name__}."
        )
    return dict(mapping)


def _reject_unknown(values: Mapping[str, Any], cls: type, setting: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{setting}: unknown setting(s) {unknown}; known: {sorted(known)}.")


def _tuples(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]
