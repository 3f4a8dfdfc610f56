"""crop_window / save_crop: a saved person crop gives the loader what the whole frame gives;
the job runner and its progress bar."""
import math
import operator
import re

import cv2
import numpy as np
import pytest

from pose3d.datasets.base import DataConfig, PoseDataset
from pose3d.datasets.transforms import adjust_aspect_ratio, get_affine_transform
from pose3d.prepare.common import (CROP_ALIGN, CropPolicy, SequenceStore, crop_window,
                                   require_dir, save_crop)
from pose3d.synthetic.render import render_person, sample_rng
from pose3d.utils.errors import DataFormatError
from pose3d.utils.jobs import run_jobs
from pose3d.utils.bars import LineProgress, progress_bar

FRAME = (1000, 1002)   # (width, height)


class Probe(PoseDataset):
    """A 3D dataset over given records, rotating in training (the widest augmentation)."""
    name = "probe"
    is_3d = True
    rotate_in_train = True

    def __init__(self, split, records, cfg):
        self._given = records
        super().__init__(split, ".", cfg)

    def _load_records(self):
        return self._given


def _cfg(**kw) -> DataConfig:
    return DataConfig(input_h=64, input_w=64, output_h=16, output_w=16, **kw)


def _policy(cfg: DataConfig, **kw) -> CropPolicy:
    return CropPolicy(scale_factor=cfg.scale_factor, rotate_factor=cfg.rotate_factor,
                      min_side=2 * cfg.input_w, **kw)


def _record(center, side, image="x.jpg") -> dict:
    rng = np.random.default_rng(0)
    joints = np.asarray(center) + rng.uniform(-side / 3, side / 3, (16, 2))
    return {"image": image, "joints": joints, "vis": np.ones(16), "center": np.asarray(center),
            "scale": float(side), "gt_3d": rng.normal(0, 200, (17, 3)),
            "depth_px": rng.normal(0, 30, 16), "group": ""}


@pytest.mark.parametrize("center,side", [((500, 501), 450.0), ((150, 900), 300.0),
                                         ((40, 30), 380.0), ((700, 500), 900.0)])
def test_window_holds_every_augmented_crop(center, side):
    cfg = _cfg()
    ds = Probe("train", [_record(center, side)], cfg)
    x0, y0, x1, y1 = crop_window(center, side, FRAME, _policy(cfg))
    assert x0 % CROP_ALIGN == 0 and y0 % CROP_ALIGN == 0                 # aligned
    assert 0 <= x0 < x1 <= FRAME[0] and 0 <= y0 < y1 <= FRAME[1]         # clipped
    assert max(x1 - x0, y1 - y0) >= min(side * (1 + cfg.scale_factor), max(FRAME))
    corners = np.array([[0, 0], [cfg.input_w, 0], [0, cfg.input_h], [cfg.input_w, cfg.input_h]],
                       dtype=np.float64)
    rotated = 0
    for i in range(400):
        s_mult, rot, _ = ds.augment_params(0, i)
        rotated += rot != 0
        box = adjust_aspect_ratio(min(side * s_mult, max(FRAME)), 1.0)
        inv = get_affine_transform(center, box, rot, (cfg.input_w, cfg.input_h), inv=True)
        src = corners @ inv[:, :2].T + inv[:, 2]
        # Every corner inside the window, or beyond a frame border the window reaches.
        assert ((src[:, 0] >= x0 - 1e-6) | (x0 == 0)).all() and \
            ((src[:, 0] <= x1) | (x1 == FRAME[0])).all()
        assert ((src[:, 1] >= y0 - 1e-6) | (y0 == 0)).all() and \
            ((src[:, 1] <= y1) | (y1 == FRAME[1])).all()
    assert rotated > 100


def test_window_without_rotation_is_smaller_and_full_frames_is_everything():
    center, side = (500, 500), 400.0
    rot = crop_window(center, side, FRAME, CropPolicy(rotate_factor=30.0, min_side=128))
    flat = crop_window(center, side, FRAME, CropPolicy(rotate_factor=0.0, min_side=128))
    assert flat[2] - flat[0] < rot[2] - rot[0]
    assert math.isclose(flat[2] - flat[0], 1.25 * side + 4, abs_tol=CROP_ALIGN + 1)
    assert crop_window(center, 10.0, FRAME, CropPolicy(min_side=512))[2] - \
        crop_window(center, 10.0, FRAME, CropPolicy(min_side=512))[0] >= 512
    assert crop_window(center, side, FRAME, CropPolicy(full_frames=True)) == (0, 0) + FRAME


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return render_person(sample_rng(0, "crop", 0), *FRAME)["image"]


@pytest.mark.parametrize("center,side", [((480, 520), 420.0), ((90, 80), 400.0)])
def test_crop_and_full_frame_give_the_same_sample(frame, tmp_path, center, side):
    cv2.imwrite(str(tmp_path / "full.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    for split in ("train", "val"):
        cfg = _cfg()
        window = crop_window(center, side, FRAME, _policy(cfg))
        off = save_crop(frame, window, tmp_path / "crop.jpg")
        full_rec = _record(center, side, str(tmp_path / "full.jpg"))
        crop_rec = dict(full_rec, image=str(tmp_path / "crop.jpg"),
                        joints=full_rec["joints"] - off, center=full_rec["center"] - off)
        full_ds, crop_ds = Probe(split, [full_rec], cfg), Probe(split, [crop_rec], cfg)
        for epoch in range(6):
            a, b = full_ds[(0, epoch)], crop_ds[(0, epoch)]
            for key in ("target", "reg_target", "reg_ind", "reg_mask"):
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{split} {key}")
            np.testing.assert_array_equal(a["meta"]["pts_crop"], b["meta"]["pts_crop"])
            diff = np.abs(a["input"] - b["input"]) * 0.226 * 256     # back to grey levels
            assert diff.mean() < 1.5, (split, epoch, diff.mean())


def test_store_rejects_a_sequence_with_a_missing_image(tmp_path):
    store = SequenceStore(tmp_path / "state", tmp_path)
    (tmp_path / "a.jpg").write_bytes(b"x")
    store.save("seq", {"img_name": np.array(["a.jpg"]), "v": np.arange(3)})
    assert store.load("seq")["v"].tolist() == [0, 1, 2]
    (tmp_path / "a.jpg").unlink()
    assert store.load("seq") is None


def test_run_jobs_keeps_job_order_in_single_thread_workers():
    jobs = [(i, 3) for i in range(9)]
    assert list(run_jobs(operator.mul, jobs, 2)) == [3 * i for i in range(9)]
    assert set(run_jobs(cv2.getNumThreads, [()] * 4, 2)) == {1}


def test_run_jobs_here_sets_opencv_threads_only_when_asked_and_restores_them():
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(2)
        assert list(run_jobs(cv2.getNumThreads, [()] * 2, 1, serial_single_thread=True)) == [1, 1]
        assert cv2.getNumThreads() == 2
        assert list(run_jobs(cv2.getNumThreads, [()] * 2, 1)) == [2, 2]
    finally:
        cv2.setNumThreads(before)


@pytest.mark.parametrize("workers", [1, 2])
def test_run_jobs_raises_a_job_error_as_itself(tmp_path, workers):
    missing = tmp_path / "missing"
    jobs = [(tmp_path, "the root", "fix a"), (missing, "the folder", "create it")]
    with pytest.raises(DataFormatError) as err:
        list(run_jobs(require_dir, jobs, workers))
    assert (err.value.path, err.value.problem, err.value.fix) == \
        (str(missing), "the folder is missing", "create it")


def test_run_jobs_prints_progress_lines_when_stderr_is_not_a_terminal(capsys):
    assert list(run_jobs(operator.neg, [(1,), (2,), (3,)], 1, "sequences")) == [-1, -2, -3]
    lines = capsys.readouterr().err.splitlines()
    assert [re.sub(r"\(\d+s\)", "(Ts)", line) for line in lines] == \
        ["sequences: 1/3 (Ts)", "sequences: 2/3 (Ts)", "sequences: 3/3 (Ts)"]
    assert list(run_jobs(operator.neg, [(1,)], 1)) == [-1]
    assert capsys.readouterr().err == ""


def test_progress_bar_kinds():
    from progress.bar import Bar
    from progress.counter import Counter

    assert isinstance(progress_bar("x", 5, lines_when_piped=True), LineProgress)
    assert isinstance(progress_bar("x", 5), Bar)       # silent off a terminal
    assert isinstance(progress_bar("x", 0), Counter)   # unknown length
