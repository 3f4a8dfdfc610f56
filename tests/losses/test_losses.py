"""Loss terms: heatmap MSE, masked smooth-L1 depth, bone-length variance and the composite."""
import math

import pytest
import torch
import torch.nn.functional as F

from pose3d.datasets.heatmap import depth_index
from pose3d.losses import (BoneVarianceLoss, DepthLoss, HeatmapLoss, build_loss,
                           bone_variance_loss, bone_variance_loss_loop, gather_depth)
from pose3d.skeleton import bone_groups_indices

K, H, W = 16, 8, 8


def _batch(bsz: int = 6, seed: int = 0, dtype=torch.float64):
    """Random fusion-style batch: the first half 3D samples, the rest 2D with random visibility."""
    g = torch.Generator().manual_seed(seed)
    pts = torch.randint(0, W, (bsz, K, 2), generator=g, dtype=torch.int32)
    reg_ind = torch.as_tensor(depth_index(pts[0].numpy(), W, K)).repeat(bsz, 1)
    for b in range(bsz):
        reg_ind[b] = torch.as_tensor(depth_index(pts[b].numpy(), W, K))
    is_3d = torch.arange(bsz) < bsz // 2
    vis = torch.rand(bsz, K, generator=g) > 0.25
    reg_mask = (vis & is_3d[:, None]).to(torch.uint8)
    depth_t = torch.rand(bsz, K, generator=g, dtype=dtype) - 0.5
    reg_target = torch.where(is_3d[:, None], depth_t * vis, vis.to(dtype)).unsqueeze(2)
    return {
        "target": torch.rand(bsz, K, H, W, generator=g, dtype=dtype),
        "reg_ind": reg_ind, "reg_mask": reg_mask, "reg_target": reg_target.float(),
        "meta": {"pts_crop": pts},
    }


def _outputs(bsz: int = 6, seed: int = 1, dtype=torch.float64, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    depth = (0.3 * torch.randn(bsz, K, H, W, generator=g, dtype=dtype)).requires_grad_(
        requires_grad)
    hm = torch.rand(bsz, K, H, W, generator=g, dtype=dtype).requires_grad_(requires_grad)
    return [{"hm": hm, "depth": depth}]


def _bone_inputs(outputs, batch):
    z = gather_depth(outputs[-1]["depth"], batch["reg_ind"])
    bsz = z.shape[0]
    xy = batch["meta"]["pts_crop"].to(z.dtype) / batch["target"].shape[-2]
    vis = batch["reg_target"].reshape(bsz, K) > 0.5
    is_2d = batch["reg_mask"].sum(1) == 0
    return z, vis, xy, is_2d


# -- heatmap -----------------------------------------------------------------------------------
def test_heatmap_loss_zero_at_target_and_mse_per_stack():
    batch = _batch()
    loss = HeatmapLoss()([{"hm": batch["target"].clone()}], batch)
    assert float(loss) == 0.0
    outs = _outputs()
    two = HeatmapLoss()([outs[0], outs[0]], batch)
    one = F.mse_loss(outs[0]["hm"], batch["target"])
    assert torch.allclose(two, 2 * one)


def test_heatmap_loss_is_float32_for_half_inputs():
    batch = _batch(dtype=torch.float32)
    out = [{"hm": batch["target"].to(torch.bfloat16)}]
    assert HeatmapLoss()(out, batch).dtype == torch.float32


# -- depth -------------------------------------------------------------------------------------
def test_depth_gather_uses_permuted_index():
    depth = torch.randn(2, K, H, W)
    pts = torch.tensor([[3, 5]] * K)  # x=3, y=5 for every joint
    ind = torch.as_tensor(depth_index(pts.numpy(), W, K)).repeat(2, 1)
    assert torch.equal(gather_depth(depth, ind), depth[:, :, 5, 3])
    assert torch.equal(gather_depth(depth[:, :, 0, 0], ind), depth[:, :, 0, 0])


def test_depth_loss_hand_computed():
    depth = torch.zeros(1, K, H, W)
    depth[0, 2, 4, 1] = 0.3  # joint 2 at x=1, y=4
    depth[0, 5, 0, 7] = 2.0  # joint 5 at x=7, y=0
    depth[0, 9, 2, 2] = 5.0  # joint 9 unsupervised
    reg_ind = torch.zeros(1, K, dtype=torch.int64)
    reg_ind[0, 2] = 4 * W * K + 1 * K + 2
    reg_ind[0, 5] = 0 * W * K + 7 * K + 5
    reg_ind[0, 9] = 2 * W * K + 2 * K + 9
    reg_mask = torch.zeros(1, K, dtype=torch.uint8)
    reg_mask[0, [2, 5]] = 1
    reg_target = torch.zeros(1, K, 1)
    reg_target[0, 2, 0] = 0.1
    reg_target[0, 5, 0] = -0.5
    batch = {"reg_ind": reg_ind, "reg_mask": reg_mask, "reg_target": reg_target}
    loss = DepthLoss()([{"depth": depth}], batch)
    # joint 2: |0.2| < 1 -> 0.5 * 0.04; joint 5: |2.5| >= 1 -> 2.5 - 0.5; joint 9 masked.
    expected = (0.5 * 0.2 ** 2 + (2.5 - 0.5)) / (2 + 1e-4)
    assert math.isclose(float(loss), expected, rel_tol=1e-6)


def test_depth_loss_vector_head_and_last_stack_only():
    batch = _batch()
    vec = torch.randn(6, K, dtype=torch.float64)
    loss = DepthLoss()([{"depth": torch.full((6, K), 1e3)}, {"depth": vec}], batch)
    m = batch["reg_mask"].double()
    t = batch["reg_target"].double().squeeze(2)
    ref = F.smooth_l1_loss(vec * m, t * m, reduction="sum") / (m.sum() + 1e-4)
    assert torch.allclose(loss, ref)


# -- bone variance -----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bone_variance_vectorised_equals_loop_with_gradients(seed):
    batch = _batch(bsz=8, seed=seed)
    outs = _outputs(bsz=8, seed=seed + 10)
    depth = outs[0]["depth"]
    z, vis, xy, is_2d = _bone_inputs(outs, batch)
    fast = bone_variance_loss(z, vis, xy, is_2d)
    (g_fast,) = torch.autograd.grad(fast, depth, retain_graph=True)
    slow = bone_variance_loss_loop(z, vis, xy, is_2d)
    (g_slow,) = torch.autograd.grad(slow, depth)
    assert float(slow.detach()) > 0
    assert abs(float(fast.detach()) - float(slow.detach())) < 1e-6
    assert torch.allclose(g_fast, g_slow, atol=1e-6, rtol=0)
    # The module reads the same inputs from outputs/batch, in float32.
    module = BoneVarianceLoss()(outs, batch)
    assert module.dtype == torch.float64  # float64 inputs are kept
    assert abs(float(module.detach()) - float(slow.detach())) < 1e-6


def test_bone_variance_float32_matches_loop():
    batch = _batch(bsz=8, seed=5, dtype=torch.float32)
    outs = _outputs(bsz=8, seed=6, dtype=torch.float32, requires_grad=False)
    z, vis, xy, is_2d = _bone_inputs(outs, batch)
    assert abs(float(bone_variance_loss(z, vis, xy, is_2d))
               - float(bone_variance_loss_loop(z, vis, xy, is_2d))) < 1e-6


def test_bone_variance_ignores_3d_samples_and_missing_joints():
    batch = _batch(bsz=6, seed=3)
    outs = _outputs(bsz=6, seed=4)
    z, vis, xy, is_2d = _bone_inputs(outs, batch)
    base = bone_variance_loss(z, vis, xy, is_2d)
    # Changing the depth of 3D samples or of invisible joints changes nothing.
    z2 = z.detach().clone()
    z2[~is_2d] += 10.0
    z2[~vis] = torch.randn(int((~vis).sum()), dtype=z.dtype)
    xy2 = xy.clone()
    xy2[~vis] = 100.0
    assert torch.allclose(bone_variance_loss(z2, vis, xy2, is_2d), base.detach(), atol=1e-12)
    (grad,) = torch.autograd.grad(base, z)
    assert torch.all(grad[~is_2d] == 0) and torch.all(grad[~vis] == 0)
    # No visible joint at all -> zero loss.
    none = torch.zeros_like(vis)
    assert float(bone_variance_loss(z, none, xy, is_2d).detach()) == 0.0


def _v(*xs: float) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float64)


def test_bone_variance_zero_when_weighted_lengths_equal():
    # Every group's bones get weighted 3D length c_g: bone vector length c_g / w, pointing in
    # x, y or z (z = depth) so that both the 2D part and the depth part are exercised.
    legs, arms, _, _ = bone_groups_indices()
    wl, wa = legs[0][2], arms[0][2]
    pos = torch.zeros(K, 3, dtype=torch.float64)
    pos[1] = pos[0] + _v(0.0, 0.0, 1.0 / wl)  # r_ankle-r_knee, weight wl
    pos[2] = pos[1] + _v(0.0, 0.6, 0.8)  # r_knee-r_hip, length 1
    pos[6] = pos[2] + _v(0.5, 0.0, 0.0)  # r_hip-pelvis, length 0.5
    pos[3] = pos[6] + _v(0.3, 0.0, 0.4)  # l_hip-pelvis, length 0.5
    pos[4] = pos[3] + _v(0.0, 1.0, 0.0)  # l_hip-l_knee, length 1
    pos[5] = pos[4] + _v(0.0, 0.0, -1.0 / wl)  # l_knee-l_ankle, weight wl
    pos[8] = _v(3.0, 3.0, 0.0)  # upper neck
    pos[12] = pos[8] + _v(0.7, 0.0, 0.0)  # shoulders, length 0.7
    pos[13] = pos[8] - _v(0.0, 0.0, 0.7)
    pos[11] = pos[12] + _v(0.0, 2.0, 0.0)  # r_elbow-r_shoulder, length 2
    pos[10] = pos[11] + _v(0.0, 0.0, 2.0 / wa)  # r_wrist-r_elbow, weight wa
    pos[14] = pos[13] + _v(2.0, 0.0, 0.0)
    pos[15] = pos[14] - _v(0.0, 2.0 / wa, 0.0)
    xy = pos[None, :, :2].clone()
    z = pos[None, :, 2].clone().requires_grad_(True)
    vis = torch.ones(1, K, dtype=torch.bool)
    is_2d = torch.ones(1, dtype=torch.bool)
    loss = bone_variance_loss(z, vis, xy, is_2d)
    assert abs(float(loss.detach())) < 1e-12
    (grad,) = torch.autograd.grad(loss, z)
    assert torch.all(grad.abs() < 1e-9)
    assert abs(float(bone_variance_loss_loop(z, vis, xy, is_2d).detach())) < 1e-12
    # Stretching one leg bone breaks the equality.
    xy[0, 0, 0] += 0.2
    assert float(bone_variance_loss(z, vis, xy, is_2d).detach()) > 1e-6


def test_bone_variance_zero_length_bone_has_finite_gradient():
    z = torch.zeros(2, K, dtype=torch.float64, requires_grad=True)
    xy = torch.zeros(2, K, 2, dtype=torch.float64)
    xy[:, 0] = _v(0.5, 0.5)  # only r_ankle moved: one leg bone non-zero
    vis = torch.ones(2, K, dtype=torch.bool)
    is_2d = torch.tensor([True, True])
    for fn in (bone_variance_loss, bone_variance_loss_loop):
        loss = fn(z, vis, xy, is_2d)
        (grad,) = torch.autograd.grad(loss, z)
        assert torch.isfinite(loss) and torch.all(torch.isfinite(grad))


def test_bone_variance_hand_value():
    # One 2D sample, only the hips group visible: lengths 0.3 and 0.5 -> E=0.4,
    # loss = ((0.1)^2 + (0.1)^2) / (2*2) = 0.005; divided by B=2 (second sample is 3D).
    z = torch.zeros(2, K, dtype=torch.float64)
    xy = torch.zeros(2, K, 2, dtype=torch.float64)
    xy[0, 2] = _v(0.3, 0.0)
    xy[0, 3] = _v(0.0, 0.5)
    vis = torch.zeros(2, K, dtype=torch.bool)
    vis[0, [2, 3, 6]] = True
    vis[1] = True
    is_2d = torch.tensor([True, False])
    assert math.isclose(float(bone_variance_loss(z, vis, xy, is_2d)), 0.005 / 2, rel_tol=1e-12)


# -- composite ---------------------------------------------------------------------------------
def test_build_loss_human3d_total_and_stats():
    batch = _batch()
    outs = _outputs()
    loss = build_loss("human3d", weight_3d=0.1, weight_var=0.01)
    total, stats = loss(outs, batch)
    assert list(stats) == ["loss", "hm_loss", "depth_loss", "var_loss"]
    expected = stats["hm_loss"] + 0.1 * stats["depth_loss"] + 0.01 * stats["var_loss"]
    assert torch.allclose(total.detach(), expected)
    assert all(not v.requires_grad for v in stats.values())
    total.backward()
    assert outs[0]["depth"].grad is not None


def test_build_loss_zero_weights_reported_but_not_added():
    batch = _batch()
    outs = _outputs()
    total, stats = build_loss("human3d", 0.0, 0.0)(outs, batch)
    assert float(stats["depth_loss"]) > 0 and float(stats["var_loss"]) > 0
    assert torch.allclose(total, stats["hm_loss"])
    total.backward()
    assert outs[0]["depth"].grad is None


def test_build_loss_human2d_and_unknown_task():
    batch = _batch()
    total, stats = build_loss("human2d")([{"hm": batch["target"]}], batch)
    assert list(stats) == ["loss", "hm_loss"] and float(total) == 0.0
    with pytest.raises(ValueError, match="unknown task"):
        build_loss("human4d")


def test_composite_float32_for_bfloat16_outputs_and_vector_depth():
    batch = _batch(dtype=torch.float32)
    outs = [{"hm": batch["target"].to(torch.bfloat16).requires_grad_(True),
             "depth": torch.randn(6, K, dtype=torch.bfloat16, requires_grad=True)}]
    total, stats = build_loss("human3d", 1.0, 1.0)(outs, batch)
    assert total.dtype == torch.float32 and torch.isfinite(total)
    assert float(stats["var_loss"]) > 0
    total.backward()
    assert outs[0]["depth"].grad.dtype == torch.bfloat16
