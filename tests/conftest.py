"""Fixtures every test module gets."""
import pytest

from helpers import DIST_VARS


@pytest.fixture(autouse=True)
def _single_process(monkeypatch):
    # Device choice, DDP set-up and the multi-GPU check read the torchrun environment.
    for name in DIST_VARS:
        monkeypatch.delenv(name, raising=False)
