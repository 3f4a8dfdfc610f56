"""The heatmap codec and the affine crop: encode -> decode round trips, flip consistency."""
import numpy as np
import torch

from pose3d.datasets.heatmap import depth_index, draw_gaussian_targets, get_preds, get_preds_3d
from pose3d.datasets.transforms import affine_points, flip_lr_channels, get_affine_transform
from pose3d.inference import predict
from pose3d.skeleton import MPII16


def test_gaussian_matches_windowed_reference():
    pts = np.array([[10, 20], [0, 0], [63, 5], [-3, 30], [70, 70]])
    hm = draw_gaussian_targets(pts, np.ones(5, bool), 64, 64, sigma=2)
    # reference: the original's 13x13 window merged into a zero map
    for k, (x, y) in enumerate(pts):
        ref = np.zeros((64, 64))
        for yy in range(y - 6, y + 7):
            for xx in range(x - 6, x + 7):
                if 0 <= xx < 64 and 0 <= yy < 64:
                    ref[yy, xx] = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 8)
        np.testing.assert_allclose(hm[k], ref, atol=1e-6)
    assert hm[4].max() == 0


def test_decode_roundtrip_and_integer_rows():
    pts = np.array([[5, 9], [40, 63], [63, 0]])
    hm = torch.from_numpy(draw_gaussian_targets(pts, np.ones(3, bool), 64, 64))[None]
    xy, conf = get_preds(hm)
    assert torch.equal(xy[0], torch.tensor(pts, dtype=torch.float32))
    assert torch.allclose(conf, torch.ones_like(conf))


def test_depth_index_matches_permuted_gather():
    k, h, w = 16, 8, 8
    depth = torch.randn(1, k, h, w)
    pts = np.stack([np.arange(k) % w, np.arange(k) // 2], 1)
    ind = torch.from_numpy(depth_index(pts, w, k))[None]
    got = depth.permute(0, 2, 3, 1).reshape(1, -1).gather(1, ind)[0]
    want = torch.stack([depth[0, j, pts[j, 1], pts[j, 0]] for j in range(k)])
    assert torch.equal(got, want)


def test_preds_3d_root_relative():
    hm = torch.zeros(1, 16, 64, 64)
    depth = torch.zeros(1, 16, 64, 64)
    for j in range(16):
        hm[0, j, j, 2 * j] = 1
        depth[0, j, j, 2 * j] = 0.1 * j
    p = get_preds_3d(hm, depth)[0]
    assert torch.allclose(p[6], torch.zeros(3))
    assert torch.allclose(p[0], torch.tensor([(0 - 12) / 64, (0 - 6) / 64, -0.6]))


def test_affine_inverse_and_rotation_direction():
    c, s = np.array([100.0, 80.0]), 200.0
    t = get_affine_transform(c, s, 0, (64, 64))
    inv = get_affine_transform(c, s, 0, (64, 64), inv=True)
    p = np.array([[30.0, 50.0], [100.0, 80.0]])
    np.testing.assert_allclose(affine_points(affine_points(p, t), inv), p, atol=1e-4)
    np.testing.assert_allclose(affine_points(c[None], t)[0], [32, 32], atol=1e-4)
    # +90 degrees: a point above the centre moves to the left (counter-clockwise on screen)
    r = get_affine_transform(c, s, 90, (64, 64))
    q = affine_points(np.array([[100.0, 30.0]]), r)[0]
    assert q[0] < 32 - 5 and abs(q[1] - 32) < 1e-3


def test_flip_test_of_symmetric_input_equals_plain_output():
    flip_index = MPII16.flip_index

    def model(x):  # heatmaps that are a mirror-equivariant function of the input
        hm = x[:, :1].repeat(1, 16, 1, 1)
        return [{"hm": hm, "depth": hm * 0.5}]

    x = torch.rand(2, 3, 8, 8)
    x = (x + x.flip(3)) / 2  # flip-symmetric input
    plain = predict(model, x, flip=False)
    flipped = predict(model, x, flip=True)
    assert torch.allclose(plain["hm"], flipped["hm"])
    assert torch.allclose(flip_lr_channels(flip_lr_channels(plain["hm"], flip_index),
                                           flip_index), plain["hm"])
