"""3DPW preparation with ``--smpl_model`` / ``--j_regressor``: one-line errors for bad model and
regressor files, and joints regressed from SMPL vertices on a model with SMPL's sizes."""
from __future__ import annotations

import json
import re

import joblib
import numpy as np
import pytest

from pose3d.datasets import DATASETS
from pose3d.datasets.base import DataConfig
from pose3d.skeleton import H36M17, H36M_REGRESSOR17, H36M_TO_MPII, MPII16, MPII_TO_H36M
from pose3d.utils.errors import UserError
from prepare.threedpw_helpers import (copy_release, raw, raw_sequences,  # noqa: F401
                                      rewrite_pickle, run_prepare)


@pytest.mark.parametrize("flags,match", [
    (["--smpl_model", "m.npz"], "--smpl_model and --j_regressor go together"),
    (["--j_regressor", "r.npy"], "--smpl_model and --j_regressor go together"),
    (["--smpl_model", "{NOPE}", "--j_regressor", "{REG}"],
     "{REG}: J_regressor_h36m.npy is missing"),
    (["--smpl_model", "{NOPE}", "--j_regressor", "{BADREG}"], "{BADREG}: has shape (3, 4)"),
    (["--smpl_model", "{NOPE}", "--j_regressor", "{OKREG}"], "{NOPE}: SMPL model is missing"),
    (["--smpl_model", "{BADMODEL}", "--j_regressor", "{OKREG}"],
     "{BADMODEL}: has no key 'posedirs'"),
    (["--smpl_model", "{CHUMPY}", "--j_regressor", "{OKREG}"],
     "{CHUMPY}: cannot be read as an SMPL model (UnpicklingError: refers to chumpy.ch.Ch)"),
])
def test_bad_smpl_inputs(raw, tmp_path, flags, match):
    pytest.importorskip("smplx")
    files = {"REG": tmp_path / "missing.npy", "BADREG": tmp_path / "bad.npy",
             "OKREG": tmp_path / "J_regressor_h36m.npy", "NOPE": tmp_path / "none.npz",
             "BADMODEL": tmp_path / "SMPL_NEUTRAL.npz", "CHUMPY": tmp_path / "basicModel.pkl"}
    np.save(files["BADREG"], np.zeros((3, 4)))
    np.save(files["OKREG"], np.zeros((17, 6890)))
    np.savez(files["BADMODEL"], v_template=np.zeros((6890, 3)),
             shapedirs=np.zeros((6890, 3, 10)))
    files["CHUMPY"].write_bytes(b"\x80\x02cchumpy.ch\nCh\nq\x00)\x81q\x01.")
    flags = [f.format(**files) for f in flags]
    with pytest.raises(UserError, match=re.escape(match.format(**files))):
        run_prepare(raw, tmp_path / "data", *flags)


# -- the SMPL + J_regressor_h36m path -----------------------------------------------------------
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]


def _smpl_model(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A model file with SMPL's keys and sizes (6890 vertices, 24 joints, 207 pose blends);
    each call draws another template, so a wrong gender choice changes the joints."""
    nv = 6890
    weights = np.zeros((nv, 24))
    weights[np.arange(nv), np.arange(nv) % 24] = 1.0
    reg = np.zeros((24, nv))
    reg[np.arange(nv) % 24, np.arange(nv)] = 24.0 / nv
    parents = np.array(SMPL_PARENTS, dtype=np.int64) % (2 ** 32)
    return {"v_template": rng.normal(0.0, 0.3, (nv, 3)),
            "shapedirs": rng.normal(0.0, 0.01, (nv, 3, 10)),
            "posedirs": rng.normal(0.0, 0.001, (nv, 3, 207)), "J_regressor": reg,
            "weights": weights, "kintree_table": np.stack([parents, np.arange(24)]),
            "f": rng.integers(0, nv, (13776, 3)).astype(np.uint32)}


def test_joints_from_smpl_vertices_through_the_regressor(raw, tmp_path):
    """Rest pose (poses = 0): SMPL vertices are template + shape blend + trans, so the regressed
    joints are known without SMPL's skinning; genders pick their model file."""
    pytest.importorskip("smplx")
    src = copy_release(raw, tmp_path / "raw")
    for pkl in src.glob("sequenceFiles/*/*.pkl"):
        rewrite_pickle(pkl, lambda d: d.__setitem__("poses",
                                                     [np.zeros_like(p) for p in d["poses"]]))
    rng = np.random.default_rng(0)
    models = {"m": _smpl_model(rng), "f": _smpl_model(rng)}
    (tmp_path / "smpl").mkdir()
    np.savez(tmp_path / "smpl" / "SMPL_MALE.npz", **models["m"])
    np.savez(tmp_path / "smpl" / "SMPL_FEMALE.npz", **models["f"])
    j_h36m = np.zeros((17, 6890))
    j_h36m[np.arange(17), 100 * np.arange(17) + 7] = 0.5
    j_h36m[np.arange(17), 100 * np.arange(17) + 3000] = 0.5
    np.save(tmp_path / "J_regressor_h36m.npy", j_h36m)
    data = tmp_path / "data"
    summary = run_prepare(src, data, "--smpl_model", str(tmp_path / "smpl"), "--j_regressor",
                          str(tmp_path / "J_regressor_h36m.npy"))
    assert "J_regressor_h36m" in " ".join(summary.notes)
    info = json.loads((data / "vibe_db" / "3dpw_prepare.json").read_text())
    assert info["joints3D_source"] == "h36m_regressor"
    seqs = raw_sequences(src)
    db = joblib.load(data / "vibe_db" / "3dpw_val_db.pt")
    ds = DATASETS["3DPW"]("val", data, DataConfig(full_test=True))
    names = [H36M17.names[j] for j in H36M_TO_MPII]     # MPII16 joint <- H36M name
    for i, rec in enumerate(ds.records):
        seq_name, actor = str(db["vid_name"][i]).rsplit("_", 1)
        s, k, f = seqs[seq_name], int(actor), int(db["frame_id"][i])
        m = models[s["genders"][k]]
        verts = m["v_template"] + m["shapedirs"] @ s["betas"][k] + s["trans"][k][f]
        h36m = j_h36m @ verts
        cam = (h36m @ s["cam_poses"][f][:3, :3].T + s["cam_poses"][f][:3, 3]) * 1000.0
        mpii = np.stack([cam[H36M_REGRESSOR17.index(n)] for n in names])
        rel = mpii - mpii[MPII16.index("pelvis")]
        np.testing.assert_allclose(rec["gt_3d"], rel[MPII_TO_H36M], atol=0.05)
        l_hip = cam[H36M_REGRESSOR17.index("l_hip")] - cam[H36M_REGRESSOR17.index("root")]
        np.testing.assert_allclose(rec["gt_3d"][H36M17.index("l_hip")], l_hip, atol=0.05)
