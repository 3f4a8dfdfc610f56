"""A reduced quick start, end to end: the three stages learn, test and demo run, summary written.

Reduced thresholds (the full quick start's targets are an MPJPE 30% below the mean pose and PCKh
60): on 48 images per split at 64x64, about 200 stage-1 steps cut the heatmap loss by at least 30%,
the stage-2 depth loss falls, and the summary reports finite MPJPE, PCKh and mean-pose baselines.
"""
import json
import math
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _epoch_values(exp: Path, key: str) -> list[float]:
    logs = sorted(exp.glob("logs_*/log.txt"))
    values = []
    for line in logs[-1].read_text().splitlines():  # train values come first on each line
        m = re.search(rf"\b{key} ([0-9.]+) \|", line)
        if m:
            values.append(float(m.group(1)))
    return values


@pytest.mark.slow
def test_reduced_quickstart(tmp_path):
    env = dict(os.environ, QS_NUM="48", QS_RES="64", QS_BATCH="8", QS_E1="34", QS_E2="6",
               QS_E3="2", QS_WORKERS="0", QS_DATA=str(tmp_path / "data"),
               QS_EXP=str(tmp_path / "exp"), QS_PREFIX="qs")
    env["QS_DATA"] = os.path.relpath(tmp_path / "data", ROOT)
    env["QS_EXP"] = os.path.relpath(tmp_path / "exp", ROOT)
    proc = subprocess.run(["bash", "scripts/quickstart.sh", "--device", "cpu"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    exp = tmp_path / "exp"
    hm = _epoch_values(exp / "qs_s1", "hm_loss")
    assert hm[-1] < 0.7 * hm[0], hm
    depth = _epoch_values(exp / "qs_s2", "depth_loss")
    assert depth[-1] < depth[0], depth
    summary = json.loads((exp / "qs_summary.json").read_text())
    for key in ("mpjpe", "pa_mpjpe", "mean_pose_mpjpe", "pckh", "mean_pose_pckh"):
        assert math.isfinite(summary[key]), summary
    assert len(list((exp / "demo").glob("*_3d.png"))) >= 3
    assert "SYNTHETIC" in proc.stdout
