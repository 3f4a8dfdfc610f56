"""Appearance of a synthetic person: skin, hair and clothing colours and styles."""
from __future__ import annotations

import colorsys
from typing import Any, Sequence

import numpy as np

SKIN_RGB = ((255, 224, 196), (241, 194, 150), (224, 172, 125), (198, 140, 100), (160, 105, 70),
            (110, 70, 45), (80, 52, 36))
HAIR_RGB = ((20, 16, 14), (60, 40, 25), (110, 75, 40), (190, 160, 100), (150, 150, 150),
            (130, 50, 25))



def hsv_color(rng: np.random.Generator, s: tuple[float, float] = (0.0, 1.0),
         v: tuple[float, float] = (0.1, 1.0)) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(*s), rng.uniform(*v))
    return np.array([b, g, r], dtype=np.float32) * 255.0


def palette(rng: np.random.Generator, table: Sequence[tuple[int, int, int]],
             jitter: float) -> np.ndarray:
    rgb = np.array(table[int(rng.integers(len(table)))], dtype=np.float32)
    rgb = np.clip(rgb * rng.uniform(1 - jitter, 1 + jitter, 3).astype(np.float32), 0, 255)
    return rgb[::-1].copy()


def sample_look(rng: np.random.Generator) -> dict:
    """Clothing, skin and hair for one person (BGR float colours and style flags)."""
    look: dict[str, Any] = {}
    look["skin"] = palette(rng, SKIN_RGB, 0.06)
    look["hair"] = palette(rng, HAIR_RGB, 0.15)
    look["hair_style"] = ("short", "short", "long", "buzz")[int(rng.integers(4))]
    look["shirt"] = hsv_color(rng, (0.0, 0.9), (0.15, 0.95))
    look["shirt2"] = hsv_color(rng, (0.0, 0.9), (0.15, 0.95))
    look["pattern"] = ("plain", "plain", "stripes", "two_tone")[int(rng.integers(4))]
    look["stripe_mm"] = float(rng.uniform(30, 80))
    look["sleeves"] = "long" if rng.random() < 0.5 else "short"
    jeans = np.array([120, 70, 40], np.float32) * rng.uniform(0.6, 1.4)
    look["pants"] = jeans if rng.random() < 0.35 else hsv_color(rng, (0.0, 0.7), (0.1, 0.8))
    look["shorts"] = bool(rng.random() < 0.2)
    look["belt"] = bool(rng.random() < 0.5)
    look["logo"] = hsv_color(rng, (0.3, 1.0), (0.5, 1.0))
    # Left shoe always light, right shoe always dark (a left/right cue).
    look["shoe_l"] = hsv_color(rng, (0.0, 0.35), (0.75, 1.0))
    look["shoe_r"] = hsv_color(rng, (0.0, 0.6), (0.05, 0.3))
    look["watch"] = hsv_color(rng, (0.0, 0.5), (0.03, 0.2))
    look["dial"] = hsv_color(rng, (0.0, 0.15), (0.75, 1.0))
    return look


def bands(x: np.ndarray, period: float) -> np.ndarray:
    return (np.floor(x / period).astype(np.int64) & 1).astype(bool)
