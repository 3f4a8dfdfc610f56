"""Rasteriser: shaded ellipsoids and tapered capsules into colour, depth and part-ID buffers.

Every pixel keeps the nearest surface, so occlusion between parts (and occluders) is exact.
"""
from __future__ import annotations

import cv2
import numpy as np


class Canvas:
    """Colour, depth and part-ID buffers plus the camera intrinsics."""

    def __init__(self, image: np.ndarray, cam: dict, light: np.ndarray, ambient: float,
                 diffuse: float):
        self.img = image
        self.h, self.w = image.shape[:2]
        assert image.flags.c_contiguous  # the flat views below must alias the image
        self.z = np.full(self.h * self.w, np.inf, np.float32)
        self.zimg = self.z.reshape(self.h, self.w)
        self.ids = np.zeros((self.h, self.w), np.uint8)
        self.ids_flat = self.ids.reshape(-1)
        self.img_flat = image.reshape(-1, 3)
        self.fx, self.fy, self.cx, self.cy = cam["fx"], cam["fy"], cam["cx"], cam["cy"]
        self.R, self.t = cam["R"], cam["t"]
        self.light = light.astype(np.float32)
        self.ambient, self.diffuse = np.float32(ambient), np.float32(diffuse)

    def clip_box(self, u0: float, v0: float, u1: float, v1: float
                 ) -> tuple[int, int, int, int] | None:
        """Integer pixel box (x0, y0, x1, y1), x1/y1 exclusive, of a float box; None if empty."""
        x0, y0 = max(int(np.floor(u0)), 0), max(int(np.floor(v0)), 0)
        x1, y1 = min(int(np.ceil(u1)) + 1, self.w), min(int(np.ceil(v1)) + 1, self.h)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    def _commit(self, box, yy: np.ndarray, xx: np.ndarray, depth: np.ndarray, surface,
                pid: int) -> None:
        """Depth-test covered pixels (bbox-relative rows/cols) and shade the winners.

        ``surface(win)`` gives the winners' (k, 3) unit normals (camera frame) and BGR colours.
        """
        x0, y0 = box[0], box[1]
        lin = (yy + y0) * self.w + (xx + x0)
        win = depth < self.z[lin]
        if not win.any():
            return
        lin = lin[win]
        n, base = surface(win)
        lam = np.maximum(n @ self.light, 0.0)
        # A little rim darkening where the surface turns away from the camera.
        rim = np.float32(0.75) + np.float32(0.25) * np.abs(n[:, 2])
        col = base * ((self.ambient + self.diffuse * lam) * rim)[:, None]
        self.img_flat[lin] = np.minimum(col, 255.0).astype(np.uint8)  # col >= 0 already
        self.z[lin] = depth[win]
        self.ids_flat[lin] = pid

    def capsule(self, a: np.ndarray, b: np.ndarray, ra: float, rb: float, pid: int,
                color_fn) -> None:
        """Tapered capsule from camera point a to b (mm) with end radii ra, rb (mm).

        Depth and normal are those of the sphere swept along the projected axis, per pixel.
        ``color_fn(t)`` gets the position along the axis t in [0, 1] of the shaded pixels.
        """
        if a[2] < 100 or b[2] < 100:
            return
        ua, va = self.fx * a[0] / a[2] + self.cx, self.fy * a[1] / a[2] + self.cy
        ub, vb = self.fx * b[0] / b[2] + self.cx, self.fy * b[1] / b[2] + self.cy
        pa, pb = self.fx * ra / a[2], self.fx * rb / b[2]
        box = self.clip_box(min(ua - pa, ub - pb), min(va - pa, vb - pb),
                        max(ua + pa, ub + pb), max(va + pa, vb + pb))
        if box is None:
            return
        x0, y0, x1, y1 = box
        # Cheap superset of the covered pixels from OpenCV, then exact tests per pixel.
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        ax, ay = ub - ua, vb - va
        ln = float(np.hypot(ax, ay))
        sh = 16.0
        qa = np.array([ua - x0, va - y0]) * sh
        qb = np.array([ub - x0, vb - y0]) * sh
        if ln > 1e-6:
            nx, ny = -ay / ln, ax / ln
            quad = np.array([[qa[0] + nx * (pa + 1) * sh, qa[1] + ny * (pa + 1) * sh],
                             [qb[0] + nx * (pb + 1) * sh, qb[1] + ny * (pb + 1) * sh],
                             [qb[0] - nx * (pb + 1) * sh, qb[1] - ny * (pb + 1) * sh],
                             [qa[0] - nx * (pa + 1) * sh, qa[1] - ny * (pa + 1) * sh]])
            cv2.fillConvexPoly(mask, np.rint(quad).astype(np.int32), 1, cv2.LINE_8, 4)
        for q, rad in ((qa, pa), (qb, pb)):
            cv2.circle(mask, tuple(int(v) for v in np.rint(q)), int((rad + 1) * sh), 1, -1,
                       cv2.LINE_8, 4)
        yy, xx = np.nonzero(mask)
        if yy.size == 0:
            return
        px = xx.astype(np.float32) + np.float32(x0 - ua)
        py = yy.astype(np.float32) + np.float32(y0 - va)
        fax, fay = np.float32(ax), np.float32(ay)
        t = (px * fax + py * fay) * np.float32(1.0 / (ax * ax + ay * ay + 1e-6))
        t = np.minimum(np.maximum(t, 0.0, out=t), 1.0, out=t)
        ex = px - t * fax
        ey = py - t * fay
        d2 = ex * ex + ey * ey
        r = np.float32(pa) + t * np.float32(pb - pa)
        r2 = r * r
        ok = d2 < r2
        if not ok.any():
            return
        yy, xx, t, ex, ey, d2, r, r2 = yy[ok], xx[ok], t[ok], ex[ok], ey[ok], d2[ok], r[ok], r2[ok]
        h = np.sqrt(np.maximum(np.float32(1.0) - d2 / r2, 0.0))
        rmm = np.float32(ra) + t * np.float32(rb - ra)
        depth = np.float32(a[2]) + t * np.float32(b[2] - a[2]) - h * rmm

        def surface(w):
            rr = r[w]
            return np.stack([ex[w] / rr, ey[w] / rr, -h[w]], axis=1), color_fn(t[w])

        self._commit(box, yy, xx, depth, surface, pid)

    def ellipsoid(self, center: np.ndarray, rot: np.ndarray, axes: np.ndarray, pid: int,
                  color_fn) -> None:
        """Ray-cast ellipsoid: camera-frame centre (mm), rotation (columns = local axes), semi-axes.

        ``color_fn(p)`` gets unit-sphere local coordinates (k, 3): x left, y up, z forward.
        """
        rmax = float(axes.max())
        if center[2] - rmax < 100:
            return
        uc = self.fx * center[0] / center[2] + self.cx
        vc = self.fy * center[1] / center[2] + self.cy
        rpx = self.fx * rmax / (center[2] - rmax) + 1
        box = self.clip_box(uc - rpx, vc - rpx, uc + rpx, vc + rpx)
        if box is None:
            return
        x0, y0, x1, y1 = box
        # Ray through pixel: (xn, yn, 1); in unit-sphere coordinates o + s * (m0 xn + m1 yn + m2).
        m = (rot / axes[None, :]).T
        o = -(m @ center)
        m0, m1, m2 = m[:, 0], m[:, 1], m[:, 2]
        al, be, ga = o @ m0, o @ m1, o @ m2
        cc = o @ o - 1.0
        # The discriminant is a quadratic polynomial in (xn, yn): hit where it is positive.
        kxx, kyy, k1 = al * al - cc * (m0 @ m0), be * be - cc * (m1 @ m1), ga * ga - cc * (m2 @ m2)
        kxy = 2 * (al * be - cc * (m0 @ m1))
        kx, ky = 2 * (al * ga - cc * (m0 @ m2)), 2 * (be * ga - cc * (m1 @ m2))
        xn = (np.arange(x0, x1, dtype=np.float64) - self.cx) / self.fx
        yn = (np.arange(y0, y1, dtype=np.float64) - self.cy) / self.fy
        px = ((kxx * xn + kx) * xn).astype(np.float32)[None, :]
        py = ((kyy * yn + ky) * yn + k1).astype(np.float32)[:, None]
        disc = (np.float32(kxy) * yn.astype(np.float32)[:, None]) * xn.astype(np.float32)[None, :]
        disc += px
        disc += py
        yy, xx = np.nonzero(disc > 0)
        if yy.size == 0:
            return
        x = xn.astype(np.float32)[xx]
        y = yn.astype(np.float32)[yy]
        m32 = m.astype(np.float32)
        d = [m32[k, 0] * x + m32[k, 1] * y + m32[k, 2] for k in range(3)]
        qa = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
        qb = np.float32(al) * x + np.float32(be) * y + np.float32(ga)
        root = np.sqrt(np.maximum(disc[yy, xx], 0.0))
        depth = (-qb - root) / qa  # the ray's z component is 1, so the parameter is the depth
        o32 = o.astype(np.float32)

        def surface(w):
            ss = depth[w]
            p = np.stack([o32[k] + ss * d[k][w] for k in range(3)], axis=1)
            n = (p / axes[None, :].astype(np.float32)) @ rot.T.astype(np.float32)
            return n / np.linalg.norm(n, axis=1, keepdims=True), color_fn(p)

        self._commit(box, yy, xx, depth, surface, pid)
