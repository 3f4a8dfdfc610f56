"""The benchmark behind ``scripts/benchmark.py``: one module per section, run by :mod:`.cli`."""
