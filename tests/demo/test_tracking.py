"""IoU linking of boxes across frames and Savitzky-Golay smoothing of each id's track."""
import numpy as np
import pytest

from pose3d.tracking import Tracker, iou_xywh, match_boxes, smooth_runs, smooth_track


def test_iou_of_known_boxes():
    a = np.array([[0.0, 0, 10, 10], [0, 0, 10, 10]])
    b = np.array([[5.0, 0, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10]])
    np.testing.assert_allclose(iou_xywh(a, b)[0], [50 / 150, 0.0, 1.0])
    assert iou_xywh(a, np.zeros((0, 4))).shape == (2, 0)


def test_matching_follows_overlap_not_order():
    prev = np.array([[0.0, 0, 10, 20], [50, 0, 10, 20], [100, 0, 10, 20]])
    cur = np.array([[102.0, 1, 10, 20], [1, 0, 10, 20], [300, 0, 10, 20]])
    assert sorted(match_boxes(prev, cur, 0.3)) == [(0, 1), (2, 0)]  # box 2 of cur is new
    assert match_boxes(prev, cur[:0], 0.3) == []


def test_tracker_keeps_ids_through_shuffles_gaps_and_newcomers():
    tracker = Tracker(min_iou=0.3, max_gap=2)
    people = np.array([[0.0, 0, 20, 40], [60, 0, 20, 40]])
    assert tracker.update(0, people) == [0, 1]
    moved = people + [3, 0, 0, 0]
    assert tracker.update(1, moved[::-1]) == [1, 0]  # listed in the other order
    # Person 1 missed in frame 2, back in frame 3; a newcomer gets a fresh id.
    assert tracker.update(2, moved[:1]) == [0]
    newcomer = np.array([[150.0, 0, 20, 40]])
    assert tracker.update(3, np.concatenate([newcomer, moved[1:]])) == [2, 1]
    # A track unseen for longer than max_gap is not continued.
    assert tracker.update(7, moved[1:]) == [3]


def test_smoothing_removes_jitter_and_keeps_straight_motion():
    t = np.arange(30, dtype=np.float64)
    line = np.stack([2.0 * t + 5, -t], axis=1)[:, None, :]  # (T, 1, 2): one joint moving
    np.testing.assert_allclose(smooth_track(line), line, atol=1e-9)
    noisy = line + np.random.default_rng(0).normal(0, 1.0, line.shape)
    before = np.abs(noisy - line).mean()
    after = np.abs(smooth_track(noisy) - line).mean()
    assert after < 0.75 * before


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_short_tracks(n):
    values = np.random.default_rng(n).normal(size=(n, 16, 2))
    out = smooth_track(values)
    assert out.shape == values.shape
    if n < 4:  # window 3 with a quadratic fits 3 points exactly; fewer are left alone
        np.testing.assert_allclose(out, values)


def test_runs_are_smoothed_separately():
    frames = np.array([0, 1, 2, 3, 4, 10, 11, 12, 13, 14])
    values = np.where(frames < 10, 0.0, 100.0)[:, None] + \
        np.random.default_rng(0).normal(0, 1, (10, 1))
    out = smooth_runs(frames, values)
    # No value is pulled across the gap between frame 4 and frame 10.
    assert np.abs(out[:5]).max() < 5 and np.abs(out[5:] - 100).max() < 5
