"""IoU linking of boxes across frames and Savitzky-Golay smoothing of each id's track."""
import numpy as np
import pytest

from pose3d import demo
from pose3d.demo_output import Person
from pose3d.predictor import Crop, Pose
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


def _person(pid: int, offset: float, noise: np.ndarray) -> Person:
    joints = np.full((16, 2), offset) + noise[:, :2]
    mm = np.full((16, 3), offset) + noise
    crop = Crop(np.zeros(2), np.ones(2))
    return Person(Pose(joints, np.ones(16), mm / 1000, mm, crop), None, None, pid)


def test_demo_smooths_each_id_on_its_own():
    rng = np.random.default_rng(0)
    # Two people moving in opposite directions, listed in changing order, with jitter.
    frames = []
    for t in range(12):
        people = [_person(0, 10.0 * t, rng.normal(0, 2, (16, 3))),
                  _person(1, 500.0 - 10.0 * t, rng.normal(0, 2, (16, 3)))]
        frames.append(people[::-1] if t % 2 else people)
    truth = {0: lambda t: 10.0 * t, 1: lambda t: 500.0 - 10.0 * t}
    before = [np.abs(p.pose.joints_3d_mm - truth[p.id](t)).mean()
              for t, ps in enumerate(frames) for p in ps]
    demo.smooth_people(frames)
    after = [np.abs(p.pose.joints_3d_mm - truth[p.id](t)).mean()
             for t, ps in enumerate(frames) for p in ps]
    after_2d = [np.abs(p.pose.joints_2d - truth[p.id](t)).mean()
                for t, ps in enumerate(frames) for p in ps]
    assert np.mean(after) < 0.75 * np.mean(before)
    assert np.mean(after_2d) < 0.75 * np.mean(before)  # same noise level in 2D
