"""Camera degradations of a rendered image: lighting, blur, sensor noise and JPEG artefacts."""
from __future__ import annotations

import cv2
import numpy as np

BANK_SIDE = 1024
BANK_STD = 24.0


class NoiseBank:
    """Fixed (1024, 1024, 3) uint8 Gaussian noise, mean 128, std 24 (same bytes everywhere).

    Built on first use and kept by its owner: drawing it costs more than rendering a person, so
    one bank serves every image of a batch. Images take windows of it at random offsets.
    """

    def __init__(self) -> None:
        self._bank: np.ndarray | None = None

    def array(self) -> np.ndarray:
        """The (1024, 1024, 3) uint8 noise."""
        if self._bank is None:
            g = np.random.Generator(np.random.PCG64(12345))
            noise = g.standard_normal((BANK_SIDE, BANK_SIDE, 3), dtype=np.float32)
            noise = noise * BANK_STD + 128.0
            self._bank = np.clip(np.rint(noise), 0, 255).astype(np.uint8)
        return self._bank


def degrade(rng: np.random.Generator, img: np.ndarray, noise: NoiseBank) -> np.ndarray:
    """Global lighting (gain, colour cast, gamma), blur, sensor noise and JPEG artefacts."""
    h, w = img.shape[:2]
    gain = rng.uniform(0.7, 1.25) * rng.uniform(0.9, 1.1, 3)
    bias = rng.uniform(-20, 20)
    gamma = rng.uniform(0.75, 1.35)
    base = (np.arange(256, dtype=np.float32) / 255.0) ** gamma * 255.0
    lut = np.clip(base[:, None] * gain[None, :] + bias, 0, 255).astype(np.uint8)
    img = cv2.LUT(img, lut.reshape(256, 1, 3))
    r = rng.random()
    if r < 0.6:
        img = cv2.GaussianBlur(img, (5, 5), rng.uniform(0.5, 1.2))
    elif r < 0.75:
        k = int(rng.integers(3, 8))
        kern = np.zeros((k, k), np.float32)
        cv2.line(kern, (0, int(rng.integers(k))), (k - 1, int(rng.integers(k))), 1.0, 1)
        img = cv2.filter2D(img, -1, kern / kern.sum())
    sigma = rng.uniform(0, 8)
    oy = int(rng.integers(max(BANK_SIDE - h, 0) + 1))
    ox = int(rng.integers(max(BANK_SIDE - w, 0) + 1))
    if sigma > 1:
        bank = noise.array()
        if h + oy > BANK_SIDE or w + ox > BANK_SIDE:
            reps = (-(-(h + oy) // BANK_SIDE), -(-(w + ox) // BANK_SIDE), 1)
            bank = np.tile(bank, reps)
        k = sigma / BANK_STD
        img = cv2.addWeighted(img, 1.0, bank[oy:oy + h, ox:ox + w], k, -128.0 * k)
    if rng.random() < 0.4:
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 96))])
        img = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return img
