from __future__ import annotations

import numpy as np
import pytest

from brainenc.data.alignment import (
    align_series,
    movie_presentations,
    nearest_sample,
    repeat_report,
)
from brainenc.data.errors import IncompleteRepeatsError


def table(movie_frames: int, repeats: int, gap: int, two_frame_rows=(), zero_frame_rows=()):
    """Stimulus-table columns as allensdk returns them: one row per shown movie frame."""
    frame, start, end = [], [], []
    t = 100
    for r in range(repeats):
        for f in range(movie_frames):
            row = r * movie_frames + f
            span = 2 if row in two_frame_rows else 0 if row in zero_frame_rows else 1
            frame.append(f)
            start.append(t)
            end.append(t + span)
            t += span
        t += gap
    return np.array(frame), np.array(start), np.array(end)


def test_per_repeat_starts_follow_irregular_rows():
    frame, start, end = table(6, 2, gap=3, two_frame_rows={1}, zero_frame_rows={8})
    p = movie_presentations("natural_movie_one", frame, start, end, 6, 200, "f.nwb")
    assert p.repeats == 2 and p.movie_frames == 6
    np.testing.assert_array_equal(p.start[0], [100, 101, 103, 104, 105, 106])
    # repeat 1 starts after the last row's end (107) plus the 3-frame gap; row 8 spans 0 frames,
    # so movie frames 2 and 3 of repeat 1 were shown during the same acquisition frame
    np.testing.assert_array_equal(p.start[1], [110, 111, 112, 112, 113, 114])


def test_incomplete_last_repeat_is_reported():
    frame, start, end = table(6, 2, gap=3)
    with pytest.raises(IncompleteRepeatsError, match="not a whole number of repeats"):
        movie_presentations("natural_movie_one", frame[:-2], start[:-2], end[:-2], 6, 200, "f.nwb")
    shuffled = frame.copy()
    shuffled[[3, 4]] = shuffled[[4, 3]]
    with pytest.raises(
        IncompleteRepeatsError, match=r"f\.nwb: natural_movie_one row 3 \(repeat 0\)"
    ):
        movie_presentations("natural_movie_one", shuffled, start, end, 6, 200, "f.nwb")
    with pytest.raises(IncompleteRepeatsError, match="outside the 50 acquisition frames"):
        movie_presentations("natural_movie_one", frame, start, end, 6, 50, "f.nwb")


def test_repeat_report_reproduces_the_seed_gaps():
    # natural_movie_one: six 2-frame rows per repeat give 906 acquisition frames per repeat and
    # 9,060 for the 10 repeats, as the seed measured. Where those rows fall decides how many
    # frames are left after the 6 clips: 66 when they are all after movie frame 840 (the seed's
    # hard-coded gap), only 61 when five of them fall inside the clips.
    late = {r * 900 + k for r in range(10) for k in range(845, 851)}
    spread = {r * 900 + k for r in range(10) for k in (100, 250, 400, 550, 700, 850)}
    for two_frame_rows, discarded in ((late, 66), (spread, 61)):
        frame, start, end = table(900, 10, gap=0, two_frame_rows=two_frame_rows)
        p = movie_presentations("natural_movie_one", frame, start, end, 900, 20_000, "s.nwb")
        report = repeat_report(p, 140)
        assert p.end[-1, -1] - p.start[0, 0] == 9060
        assert report["acquisition_frames"] == [906] * 10
        assert report["discarded_after_clips"] == [discarded] * 10
        assert report["gap_to_next_repeat"] == [0] * 9 + [-1]


def test_repeat_report_splits_blocks():
    # natural_movie_three: two blocks of repeats far apart; the last repeat of each block ends
    # its block, so nothing after it counts as discarded
    frame, start, end = table(10, 4, gap=2)
    start[20:] += 1000
    end[20:] += 1000
    p = movie_presentations("natural_movie_three", frame, start, end, 10, 5000, "s.nwb")
    report = repeat_report(p, 4)
    assert report["gap_to_next_repeat"] == [2, 1002, 2, -1]
    assert report["discarded_after_clips"] == [4, 2, 4, 2]


def test_nearest_sample_and_tolerance():
    samples = np.array([0.0, 1.0, 2.0, 3.0])
    index, valid = nearest_sample(samples, np.array([-0.2, 0.4, 0.6, 2.5, 3.9]), max_offset=0.5)
    np.testing.assert_array_equal(index, [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(valid, [True, True, True, True, False])


def test_eye_series_aligned_by_timestamp_not_index():
    frame_times = 10.0 + np.arange(100) / 30.0
    eye_times = 10.4 + np.arange(60) / 30.0 + 0.004  # starts late, ends early, own clock
    values = np.stack([eye_times * 10, -eye_times], axis=1)
    aligned = align_series(eye_times, values, frame_times, "pupil_location", "s.nwb")
    assert aligned.shape == (100, 2)
    distance = np.abs(eye_times[None, :] - frame_times[:, None])
    nearest, covered = distance.argmin(axis=1), distance.min(axis=1) <= 1 / 30
    assert covered.sum() == 61 and np.isnan(aligned[~covered]).all()
    np.testing.assert_array_equal(aligned[covered], values[nearest[covered]])


def test_eye_series_with_nan_timestamps_and_bad_order():
    times = np.array([0.0, np.nan, 0.2, 0.3])
    aligned = align_series(times, np.arange(4.0), np.array([0.0, 0.21]), "pupil_size", "s.nwb")
    np.testing.assert_array_equal(aligned, [0.0, 2.0])
    with pytest.raises(ValueError, match="s.nwb: pupil_size timestamps are not strictly"):
        align_series(np.array([0.0, 0.2, 0.1]), np.zeros(3), np.zeros(2), "pupil_size", "s.nwb")
