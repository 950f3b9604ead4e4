"""The session timeline: epoch order, real-like frame counts and stimulus-table invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brainenc.insilico import session_config
from brainenc.insilico.schedule import (
    ALLENSDK_EPOCH_GAP_THRESHOLD,
    BLANK_FRACTION,
    EPOCH_ORDER,
    build_schedule,
    movie_frame_labels,
)


@pytest.fixture(scope="module")
def full_schedule():
    return build_schedule(session_config("A", "full"))


def test_full_session_has_the_seven_real_epochs_in_order(full_schedule) -> None:
    assert tuple(name for name, _, _ in full_schedule.epochs) == EPOCH_ORDER
    starts = [start for _, start, _ in full_schedule.epochs]
    assert starts == sorted(starts)


def test_full_movie_epochs_span_about_the_real_frame_counts(full_schedule) -> None:
    spans = {}
    for name, start, end in full_schedule.epochs:
        spans.setdefault(name, []).append(end - start)
    # seed report: 9,060 frames for NM1's 9,000 movie frames, 18,105 / 18,100 for NM3's halves
    assert 9_030 <= spans["natural_movie_one"][0] <= 9_090
    for span in spans["natural_movie_three"]:
        assert 18_060 <= span <= 18_150


def test_full_tables_have_the_real_row_counts(full_schedule) -> None:
    assert len(full_schedule.movies["natural_movie_one"].frame) == 9_000
    assert len(full_schedule.movies["natural_movie_three"].frame) == 36_000
    g = full_schedule.gratings
    assert len(g.start) == 628
    assert int(g.blank_sweep.sum()) == round(628 * BLANK_FRACTION) == 28
    assert np.isnan(g.temporal_frequency[g.blank_sweep == 1]).all()
    conditions = {
        (tf, o)
        for tf, o, b in zip(g.temporal_frequency, g.orientation, g.blank_sweep, strict=True)
        if not b
    }
    assert len(conditions) == 40


def test_movie_rows_span_one_frame_mostly_with_some_two_and_zero_frame_rows(full_schedule) -> None:
    table = full_schedule.movies["natural_movie_three"]
    spans = np.bincount(table.end - table.start, minlength=3)
    assert spans.sum() == spans[:3].sum()
    assert spans[1] > 0.98 * len(table.frame)
    assert spans[2] > 50 and spans[0] > 10


def test_timestamps_are_irregular_30hz_and_do_not_start_at_zero(full_schedule) -> None:
    t = full_schedule.timestamps
    periods = np.diff(t)
    assert t[0] > 1.0
    assert (periods > 0).all()
    assert 29.5 < 1 / periods.mean() < 30.5
    assert periods.std() > 1e-6


@settings(max_examples=25, deadline=None)
@given(
    nm1=st.integers(2, 60),
    nm3=st.integers(2, 60),
    nm1_repeats=st.integers(1, 6),
    nm3_repeats=st.integers(2, 6),
    trials=st.integers(3, 12),
    seed=st.integers(0, 2**16),
    truncated=st.sampled_from([None, "natural_movie_one", "natural_movie_three"]),
)
def test_tables_tile_the_session_for_any_sizes(
    nm1, nm3, nm1_repeats, nm3_repeats, trials, seed, truncated
) -> None:
    c = session_config(
        "A",
        "test",
        seed,
        natural_movie_one_frames=nm1,
        natural_movie_three_frames=nm3,
        natural_movie_one_repeats=nm1_repeats,
        natural_movie_three_repeats=nm3_repeats,
        drifting_grating_trials=trials,
        spontaneous_frames=50,
        truncate_last_repeat=truncated,
    )
    s = build_schedule(c)
    assert s.n_frames == c.n_frames
    assert tuple(name for name, _, _ in s.epochs) == EPOCH_ORDER
    for name, table in s.movies.items():
        frames = getattr(c, f"{name}_frames")
        repeats = getattr(c, f"{name}_repeats")
        expected = frames * repeats - (frames - frames // 2 if truncated == name else 0)
        assert len(table.frame) == expected
        assert set(np.unique(table.end - table.start)) <= {0, 1, 2}
        assert (table.start[1:] >= table.end[:-1]).all()  # rows never overlap
        gaps = table.start[1:] - table.end[:-1]
        new_epoch = gaps > ALLENSDK_EPOCH_GAP_THRESHOLD
        assert new_epoch.sum() == (1 if name == "natural_movie_three" else 0)
        assert (
            table.repeat[: frames * (repeats - 1)] == np.repeat(np.arange(repeats - 1), frames)
        ).all()
        assert table.end[-1] < s.n_frames
    movie, frame, repeat = movie_frame_labels(s)
    labelled = (s.movies["natural_movie_one"].end - s.movies["natural_movie_one"].start).sum()
    assert (movie == 0).sum() == labelled
    assert ((movie >= 0) == (frame >= 0)).all() and ((movie >= 0) == (repeat >= 0)).all()


def test_same_seed_same_schedule_other_seed_other_timing() -> None:
    c = session_config("A", "test", seed=1)
    a, b = build_schedule(c), build_schedule(c)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    np.testing.assert_array_equal(
        a.movies["natural_movie_one"].start, b.movies["natural_movie_one"].start
    )
    other = build_schedule(session_config("A", "test", seed=2))
    assert not np.array_equal(a.timestamps, other.timestamps)
