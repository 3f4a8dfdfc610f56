"""The sensor-noise bank and the batches that share it: same bytes however they are made."""
from __future__ import annotations

import hashlib

import numpy as np

from pose3d.synthetic.batches import run_batches
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.render import render_person, sample_rng

# Hash of the bank every synthetic image has been drawn from; it must never change.
BANK_SHA256 = "9ab3678cda049a26da35561748dc46fcfc6c990c8cf9759405d66666aaa44e6f"


def test_noise_bank_bytes_are_fixed():
    bank = NoiseBank().array()
    assert bank.shape == (1024, 1024, 3) and bank.dtype == np.uint8
    assert hashlib.sha256(bank.tobytes()).hexdigest() == BANK_SHA256
    assert abs(float(bank.mean()) - 128.0) < 0.5 and abs(float(bank.std()) - 24.0) < 0.5


def test_shared_bank_gives_the_same_images_as_fresh_ones():
    shared = NoiseBank()
    for i in range(3):
        a = render_person(sample_rng(4, "noise", i), 160, 120, noise=shared)
        b = render_person(sample_rng(4, "noise", i), 160, 120)
        np.testing.assert_array_equal(a["image"], b["image"])


def _job(index: int, noise: NoiseBank) -> tuple[int, int]:
    return index, id(noise)


def test_run_batches_here_keeps_order_and_shares_one_bank():
    out = run_batches(_job, [(i,) for i in range(5)], workers=1)
    assert [i for i, _ in out] == list(range(5))
    assert len({bank for _, bank in out}) == 1
