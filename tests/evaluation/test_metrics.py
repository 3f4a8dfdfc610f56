"""Evaluation: pure metrics, the H36M protocol and MPII PCKh on a tiny gt_valid.mat."""
import math

import numpy as np
import pytest
import torch
from scipy.io import savemat
from scipy.spatial.transform import Rotation

from pose3d.datasets.heatmap import draw_gaussian_targets
from pose3d.evaluation import (GroupedMeter, auc_3d, compute_similarity_transform,
                               format_pckh_table, h36m_protocol, heatmap_accuracy, is_better,
                               load_gt_valid, mpii16_to_h36m17, mpjpe, n_mpjpe, pa_mpjpe, pck,
                               pck_3d, pckh, per_group_mean, rescale_to_bone_length,
                               skeleton_length, torso_size)
from pose3d.skeleton import ACC_IDXS, H36M17, MPII16, MPII_MAT_NAMES, MPII_TO_H36M
from pose3d.utils.errors import DataFormatError


def _poses(n=5, j=17, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 300, (n, j, 3))


# -- 3D metrics --------------------------------------------------------------------------------
def test_identity_gives_zero_error():
    gt = _poses()
    assert mpjpe(gt, gt) == 0.0
    assert pa_mpjpe(gt, gt) < 1e-9
    assert n_mpjpe(gt, gt) < 1e-9
    assert pck_3d(gt, gt) == 100.0 and auc_3d(gt, gt) == pytest.approx(100 * 30 / 31)


def test_mpjpe_known_offset_and_pck3d():
    gt = _poses()
    pred = gt + np.array([37.2, 49.6, 0.0])  # 62 mm everywhere
    assert mpjpe(pred, gt) == pytest.approx(62.0)
    assert pck_3d(pred, gt, thr=62.1) == 100.0 and pck_3d(pred, gt, thr=61.9) == 0.0
    # 62 mm error is below thresholds 65..150: 18 of the 31 thresholds.
    assert auc_3d(pred, gt) == pytest.approx(100 * 18 / 31)
    assert mpjpe(torch.as_tensor(pred), torch.as_tensor(gt)) == pytest.approx(62.0)


def test_pa_mpjpe_invariant_to_similarity_transform():
    gt = _poses(n=6, seed=1)
    noisy = gt + np.random.default_rng(2).normal(0, 20, gt.shape)
    base = pa_mpjpe(noisy, gt)
    rots = Rotation.random(6, random_state=3).as_matrix()
    moved = 2.7 * np.einsum("nij,nkj->nki", rots, noisy) + np.array([100.0, -50.0, 3000.0])
    assert pa_mpjpe(moved, gt) == pytest.approx(base, rel=1e-9)
    assert base < mpjpe(noisy, gt)


def test_pa_mpjpe_does_not_reflect():
    gt = _poses(n=3, seed=4)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    assert pa_mpjpe(mirrored, gt) > 1.0


def test_n_mpjpe_invariant_to_scale():
    gt = _poses(seed=5)
    noisy = gt + np.random.default_rng(6).normal(0, 20, gt.shape)
    assert n_mpjpe(0.01 * noisy, gt) == pytest.approx(n_mpjpe(noisy, gt), rel=1e-9)
    assert n_mpjpe(3.0 * gt, gt) < 1e-9


def test_compute_similarity_transform_recovers_scale():
    rng = np.random.default_rng(7)
    y = rng.normal(0, 500, (17, 2))  # mm
    ang = 0.3
    rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    x = 0.25 * y @ rot + np.array([320.0, 240.0])  # px
    d, z, t, b, c = compute_similarity_transform(x, y)
    assert b == pytest.approx(0.25) and d == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(t, rot) and np.allclose(c, [320.0, 240.0]) and np.allclose(z, x)
    assert np.allclose(b * y @ t + c, x)


# -- H36M protocol -----------------------------------------------------------------------------
def _skeleton_with_bone_length(length=100.0, seed=0):
    """H36M-17 pose whose 15 bones each have ``length``; joint 9 at the origin."""
    rng = np.random.default_rng(seed)
    pose = np.zeros((17, 3))
    placed = {0}
    edges = list(H36M17.edges)
    while len(placed) < 16:
        for a, b in edges:
            if (a in placed) != (b in placed):
                src, dst = (a, b) if a in placed else (b, a)
                v = rng.normal(size=3)
                pose[dst] = pose[src] + length * v / np.linalg.norm(v)
                placed.add(dst)
    return pose


def test_rescale_to_bone_length_4000():
    pose = _skeleton_with_bone_length(100.0)
    assert skeleton_length(pose) == pytest.approx(1500.0)
    out = rescale_to_bone_length(pose[None])[0]
    a, b = np.array(H36M17.edges).T
    assert np.allclose(np.linalg.norm(out[a] - out[b], axis=1), 4000.0 / 15)
    assert np.allclose(out, pose * 4000.0 / 1500.0)
    assert np.all(rescale_to_bone_length(np.zeros((2, 17, 3))) == 0)


def test_mpii16_to_h36m17_interpolates_spine_and_nose():
    pred16 = np.random.default_rng(8).normal(size=(2, 16, 3))
    out = mpii16_to_h36m17(torch.as_tensor(pred16))
    assert out.shape == (2, 17, 3)
    for k, j in enumerate(MPII_TO_H36M):
        if k not in (7, 9):
            assert np.allclose(out[:, k], pred16[:, j])
    assert np.allclose(out[:, 7], (pred16[:, MPII16.index("pelvis")]
                                   + pred16[:, MPII16.index("upper_neck")]) / 2)
    assert np.allclose(out[:, 9], (pred16[:, MPII16.index("upper_neck")]
                                   + pred16[:, MPII16.index("head_top")]) / 2)


def test_h36m_protocol_scale_free_and_skips_empty_gt():
    rng = np.random.default_rng(9)
    pred16 = rng.normal(0, 0.2, (4, 16, 3))
    pred16 -= pred16[:, 6:7]  # root-relative
    gt = rescale_to_bone_length(mpii16_to_h36m17(pred16))
    gt[2] = 0.0  # a 2D sample
    res = h36m_protocol(3.0 * pred16, gt)  # any crop scale gives the same mm skeleton
    assert list(res.valid) == [True, True, False, True]
    assert np.allclose(res.errors[res.valid], 0.0) and np.isnan(res.errors[2])
    assert np.allclose(res.pa_errors[res.valid], 0.0, atol=1e-6)
    assert res.per_joint.shape == (4, 17) and res.pred_mm.shape == (4, 17, 3)
    # Error is the mean over all 17 joints, root included.
    shifted = gt.copy()
    shifted[:, 1:] += np.array([0.0, 0.0, 17.0])
    res2 = h36m_protocol(pred16, shifted)
    assert res2.errors[0] == pytest.approx(17.0 * 16 / 17)


def test_per_group_mean_and_meter():
    errors = np.array([10.0, 20.0, 30.0, np.nan, 50.0])
    groups = ["Walking", "Eating", "Walking", "Eating", "Sitting"]
    valid = np.array([True, True, True, False, False])
    assert per_group_mean(errors, groups, valid) == {"Walking": 20.0, "Eating": 20.0}
    meter = GroupedMeter()
    meter.update(errors[:2], groups[:2])
    meter.update(errors[2:], groups[2:])
    assert meter.means() == {"Walking": 20.0, "Eating": 20.0, "Sitting": 50.0}
    assert meter.average() == pytest.approx(30.0)
    assert meter.overall() == pytest.approx(110.0 / 4)


# -- 2D metrics --------------------------------------------------------------------------------
def _hms(pts, size=16):
    return torch.as_tensor(np.stack([draw_gaussian_targets(p, np.ones(16, bool), size, size)
                                     for p in pts]))


def test_heatmap_accuracy_perfect_and_invalid_joints():
    rng = np.random.default_rng(10)
    pts = rng.integers(1, 10, (3, 16, 2))
    hm = _hms(pts)
    mean, per_joint = heatmap_accuracy(hm, hm, ACC_IDXS)
    assert mean == 1.0 and np.all(per_joint == 1.0)
    # Sample 0 predicted 5 cells to the right: 5 / (16 / 10) = 3.1 > 0.5 -> wrong.
    shifted = pts.copy()
    shifted[0, :, 0] += 5
    mean, per_joint = heatmap_accuracy(_hms(shifted), hm, ACC_IDXS)
    assert np.allclose(per_joint, 2 / 3) and mean == pytest.approx(2 / 3)
    assert heatmap_accuracy(_hms(shifted), hm, ACC_IDXS, thr=3.2)[0] == 1.0
    # A joint whose target is empty (argmax at x=0) or sits at x=0 is never counted.
    tgt = hm.clone()
    tgt[:, ACC_IDXS[0]] = 0.0
    edge = pts.copy()
    edge[:, ACC_IDXS[1], 0] = 0
    mean, per_joint = heatmap_accuracy(_hms(shifted), _hms(edge) * (tgt.amax((2, 3), True) > 0),
                                       ACC_IDXS)
    assert np.isnan(per_joint[0]) and np.isnan(per_joint[1])
    assert np.allclose(per_joint[2:], 2 / 3) and mean == pytest.approx(2 / 3)
    # Nothing valid at all -> 0, as the original.
    assert heatmap_accuracy(hm, torch.zeros_like(hm), ACC_IDXS)[0] == 0.0


def test_pck_with_torso_normaliser():
    gt = np.zeros((2, 16, 2))
    gt[:, MPII16.index("r_shoulder")] = [0.0, 0.0]
    gt[:, MPII16.index("l_hip")] = [30.0, 40.0]  # torso 50 px
    vis = np.ones((2, 16))
    vis[1, 0] = 0
    norm = torso_size(gt, vis)
    assert np.allclose(norm, 50.0)
    pred = gt.copy()
    pred[:, 0] += [9.0, 0.0]  # within 0.2 * 50 = 10
    pred[:, 1] += [11.0, 0.0]  # outside
    mean, per_joint = pck(pred, gt, norm, vis, thr=0.2)
    assert per_joint[0] == 100.0 and per_joint[1] == 0.0
    assert mean == pytest.approx(100.0 * (31 - 2) / 31)
    assert torso_size(gt, np.zeros((2, 16))).tolist() == [0.0, 0.0]


def test_is_better():
    assert is_better("mpjpe", 60.0, 64.0) and not is_better("mpjpe", 70.0, 64.0)
    assert is_better("acc", 0.9, 0.8) and is_better("pckh", 1.0, None)
    assert not is_better("auc", float("nan"), 10.0)
    with pytest.raises(KeyError, match="unknown metric"):
        is_better("f1", 1.0, 0.0)


# -- PCKh --------------------------------------------------------------------------------------
def _write_gt_valid(path, pos, missing, boxes, order=None):
    """gt_valid.mat as docs/datasets.md describes; ``order`` permutes the file's joint rows."""
    order = list(range(16)) if order is None else order
    joints = np.empty((1, 16), dtype=object)
    for col, j in enumerate(order):
        joints[0, col] = MPII_MAT_NAMES[j]
    savemat(str(path), {"dataset_joints": joints,
                        "jnt_missing": missing[order].astype(np.uint8),
                        "pos_gt_src": pos[order].astype(np.float64),
                        "headboxes_src": boxes.astype(np.float64)})


def _gt_arrays(n=4, seed=11):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(100, 500, (16, 2, n))
    missing = np.zeros((16, n), np.uint8)
    missing[3, 1] = 1
    missing[9, 2] = 1
    pos[missing.astype(bool).nonzero()[0], :, missing.astype(bool).nonzero()[1]] = 0.0
    boxes = np.zeros((2, 2, n))
    boxes[0] = [[100.0] * n, [50.0] * n]
    boxes[1] = [[100.0 + 60.0] * n, [50.0 + 80.0] * n]  # diagonal 100 -> head size 60
    return pos, missing, boxes


def test_pckh_of_ground_truth_is_100(tmp_path):
    pos, missing, boxes = _gt_arrays()
    path = tmp_path / "gt_valid.mat"
    _write_gt_valid(path, pos, missing, boxes, order=list(range(15, -1, -1)))
    gt = load_gt_valid(path)
    assert np.array_equal(gt["pos_gt_src"], pos) and np.array_equal(gt["jnt_missing"], missing)
    res = pckh(pos.transpose(2, 0, 1), gt)
    for key in ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean",
                "Mean@0.1"):
        assert res[key] == 100.0
    assert res["count"][3] == 3 and res["count"][0] == 4
    table = format_pckh_table(res)
    assert "Shoulder" in table and "100.00" in table


def test_pckh_hand_computed(tmp_path):
    pos, missing, boxes = _gt_arrays()
    path = tmp_path / "gt_valid.mat"
    _write_gt_valid(path, pos, missing, boxes)
    gt = load_gt_valid(path)
    preds = pos.transpose(2, 0, 1).copy()  # (N, 16, 2), head size 60 -> PCKh@0.5 radius 30 px
    head, r_wri, l_wri = (MPII16.index(n) for n in ("head_top", "r_wrist", "l_wrist"))
    preds[0, head] += [0.5 * (0.6 * 100.0), 0.0]  # exactly at the threshold: counted (<=)
    preds[1, head] += [18.0, 24.1]  # 30.1 px: missed
    preds[2, head] += [500.0, 0.0]  # missed but head of sample 2 is missing: not counted
    preds[:, r_wri] += [0.0, 7.0]  # 7 px: correct at 0.5, wrong at 0.11 (6.6 px)
    preds[3, l_wri] += [40.0, 0.0]
    res = pckh(preds, gt)
    assert res["per_joint"][head] == pytest.approx(100 * 2 / 3)
    assert res["Head"] == pytest.approx(100 * 2 / 3)
    assert res["Wrist"] == pytest.approx((100.0 + 75.0) / 2)
    counts = 16 * 4 - 2 - 4 - 4  # visible joints without pelvis/thorax (none of those missing)
    wrong = 1 + 1  # sample-1 head, sample-3 l_wrist
    assert res["Mean"] == pytest.approx(100 * (counts - wrong) / counts)
    # At threshold 0.11 (6.6 px) the 7 px wrists fail and so does the 30 px head.
    wrong_01 = 2 + 1 + 4  # heads 0 and 1, l_wrist 3, r_wrists 0-3
    assert res["Mean@0.1"] == pytest.approx(100 * (counts - wrong_01) / counts)


def test_load_gt_valid_errors(tmp_path):
    with pytest.raises(DataFormatError, match="file not found"):
        load_gt_valid(tmp_path / "nope.mat")
    path = tmp_path / "bad.mat"
    savemat(str(path), {"jnt_missing": np.zeros((16, 2), np.uint8)})
    with pytest.raises(DataFormatError, match="bad.mat.*dataset_joints"):
        load_gt_valid(path)
    broken = tmp_path / "broken.mat"
    broken.write_bytes(b"not a mat file at all")
    with pytest.raises(DataFormatError, match="broken.mat"):
        load_gt_valid(broken)
    pos, missing, boxes = _gt_arrays()
    path2 = tmp_path / "gt.mat"
    _write_gt_valid(path2, pos, missing, boxes)
    with pytest.raises(ValueError, match="valid.json order"):
        pckh(np.zeros((3, 16, 2)), load_gt_valid(path2))
