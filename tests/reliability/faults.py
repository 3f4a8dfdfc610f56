"""The bad-input table: every input a user can get wrong, how to break it, what must happen.

Each :class:`Fault` row says

* ``target``: what is broken: a path relative to the data root, ``IMAGE`` (the image file of
  the first training sample) or ``CKPT`` (``model.pth`` in a checkpoint folder of the test;
  ``CKPT/<name>`` for another file name);
* ``make``: how it is broken (a function of that path);
* ``command``: what is run on it:
    ``("dataset", name, split)``   construct the dataset in-process;
    ``("sample", name, split)``    construct it, break ``IMAGE``, then read sample 0;
    ``("weights", arch)``          ``runner.load_weights`` into a tiny model of that arch;
    ``("flags", argv)``            ``pose3d.opts.parse(argv)`` in-process;
    ``("run", argv)``              ``opts.parse`` + ``runner.run`` in-process;
    ``("main", argv)``             ``python src/main.py argv`` in a subprocess;
    ``("demo", argv)``             ``python src/demo.py argv`` in a subprocess;
  ``{root}``, ``{ckpt}`` and ``{ckpt_dir}`` in argv are replaced by the broken tree, the
  checkpoint file and its folder;
* ``exit``: 1 (a ``UserError``: one line on stderr), 2 (a bad flag value, argparse), or 0 (the
  input is legal: e.g. NaN coordinates mark unlabelled joints in the 2D formats; then every
  sample must come out with finite targets);
* ``expect``: substrings of the message (the file or flag, what is wrong).

``test_bad_input.py`` runs one parametrized test per row.
"""
from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from conftest import own_copy

IMAGE = "IMAGE"
CKPT = "CKPT"


@dataclass(frozen=True)
class Fault:
    id: str
    target: str
    make: Callable[[Path], None]
    command: tuple
    exit: int
    expect: tuple[str, ...]


# -- ways to break a file --------------------------------------------------------------------------
# ``edit_*(fn)`` load a file, let ``fn`` change the object in place (or, with ``replace=True``,
# return its replacement) and write it back in the same format.
def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def empty(path: Path) -> None:
    own_copy(path).write_bytes(b"")


def truncate(path: Path) -> None:
    data = own_copy(path).read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garbage(path: Path) -> None:
    own_copy(path).write_bytes(bytes(range(128, 256)) * 8)


def text(path: Path) -> None:
    own_copy(path).write_text("this is not an image\n")


def edit_json(fn: Callable, replace: bool = False) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        obj = json.loads(own_copy(path).read_text())
        obj = fn(obj) if replace else (fn(obj), obj)[1]
        path.write_text(json.dumps(obj))
    return make


def edit_pickle(fn: Callable, replace: bool = False) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with open(own_copy(path), "rb") as f:
            obj = pickle.load(f)
        obj = fn(obj) if replace else (fn(obj), obj)[1]
        with open(path, "wb") as f:
            pickle.dump(obj, f)
    return make


def edit_joblib(fn: Callable, replace: bool = False) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        import joblib

        obj = joblib.load(own_copy(path))
        obj = fn(obj) if replace else (fn(obj), obj)[1]
        joblib.dump(obj, path)
    return make


def edit_mat(fn: Callable, replace: bool = False) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        import scipy.io

        data = {k: v for k, v in scipy.io.loadmat(str(own_copy(path))).items()
                if not k.startswith("__")}
        data = fn(data) if replace else (fn(data), data)[1]
        scipy.io.savemat(str(path), data)
    return make


def rename_key(d: dict, old: str, new: str) -> None:
    d[new] = d.pop(old)


def drop_struct_field(arr: np.ndarray, field: str) -> np.ndarray:
    names = [n for n in arr.dtype.names if n != field]
    out = np.empty(arr.shape, dtype=[(n, "O") for n in names])
    for n in names:
        out[n] = arr[n]
    return out


def set_struct_field(arr: np.ndarray, field: str, value) -> np.ndarray:
    arr = arr.copy()
    arr[field][0, 0] = value
    return arr


NAN = float("nan")


# -- the rows --------------------------------------------------------------------------------------
def _file_faults(prefix: str, rel: str, command: tuple, what: str = "") -> list[Fault]:
    """Missing / empty / truncated / garbage versions of one annotation file."""
    name = Path(rel).name
    return [
        Fault(f"{prefix}-file-missing", rel, remove, command, 1, (name, "missing")),
        Fault(f"{prefix}-file-empty", rel, empty, command, 1, (name,) + ((what,) if what else ())),
        Fault(f"{prefix}-file-truncated", rel, truncate, command, 1, (name,)),
        Fault(f"{prefix}-file-garbage", rel, garbage, command, 1, (name,)),
    ]


def _image_faults(prefix: str, name: str, split: str = "train") -> list[Fault]:
    cmd = ("sample", name, split)
    return [
        Fault(f"{prefix}-image-missing", IMAGE, remove, cmd, 1, ("image file is missing",)),
        Fault(f"{prefix}-image-zero-bytes", IMAGE, empty, cmd, 1, ("not a readable image",)),
        Fault(f"{prefix}-image-not-an-image", IMAGE, text, cmd, 1, ("not a readable image",)),
    ]


def dataset_faults() -> list[Fault]:
    rows: list[Fault] = []

    # MPII json: a list of person records.
    ann = "mpii/annot/train.json"
    cmd = ("dataset", "mpii", "train")
    rows += [Fault("mpii-folder-missing", "mpii", remove, cmd, 1, ("mpii", "folder is missing"))]
    rows += _file_faults("mpii", ann, cmd, "not valid json")
    rows += [
        Fault("mpii-top-level-not-a-list", ann,
              edit_json(lambda d: {"records": d}, replace=True), cmd, 1,
              ("train.json", "not a list")),
        Fault("mpii-no-records", ann, edit_json(lambda d: d.clear()), cmd, 1, ("no samples",)),
        Fault("mpii-record-not-an-object", ann, edit_json(lambda d: d.__setitem__(0, [1, 2])),
              cmd, 1, ("train.json", "record 0")),
        Fault("mpii-field-renamed", ann, edit_json(lambda d: rename_key(d[0], "joints", "pts")),
              cmd, 1, ("train.json", "record 0", "'joints'")),
        Fault("mpii-joint-count", ann,
              edit_json(lambda d: d[0].__setitem__("joints", d[0]["joints"][:15])), cmd, 1,
              ("train.json", "'joints'", "(15, 2)")),
        Fault("mpii-joints-not-numbers", ann,
              edit_json(lambda d: d[0].__setitem__("joints", [["a", "b"]] * 16)), cmd, 1,
              ("train.json", "'joints'", "non-numeric")),
        Fault("mpii-center-nan", ann, edit_json(lambda d: d[0].__setitem__("center", [NAN, 1])),
              cmd, 1, ("train.json", "record 0", "not finite")),
        Fault("mpii-scale-negative", ann, edit_json(lambda d: d[0].__setitem__("scale", -1)),
              cmd, 1, ("train.json", "record 0", "positive")),
        # NaN joints are the format's "unlabelled": accepted, and the joint is not supervised.
        Fault("mpii-joint-nan-is-unlabelled", ann,
              edit_json(lambda d: d[0]["joints"].__setitem__(3, [NAN, NAN])), cmd, 0, ()),
    ]
    rows += _image_faults("mpii", "mpii")

    # LSP (3, 14, N) and LSP-Extended (14, 3, M) joints.mat.
    for prefix, folder, axis in (("lsp", "lsp", 1), ("lspet", "lsp_extended", 0)):
        mat = f"{folder}/joints.mat"
        cmd = ("dataset", "lsp_extended", "train")

        def fewer(d, axis=axis):
            d["joints"] = np.delete(d["joints"], 0, axis=axis)

        def words(d):
            out = np.empty(d["joints"].shape, dtype=object)
            out[...] = "x"
            d["joints"] = out

        def nan_joint(d, axis=axis):
            idx = (0, 3, 0) if axis == 1 else (3, 0, 0)
            d["joints"][idx] = np.nan

        # Either folder alone is enough to train (the other part is simply not used).
        rows += [Fault(f"{prefix}-folder-missing", folder, remove, cmd, 0, ())]
        rows += _file_faults(prefix, mat, cmd, "unreadable")
        rows += [
            Fault(f"{prefix}-variable-renamed", mat,
                  edit_mat(lambda d: rename_key(d, "joints", "joint")), cmd, 1,
                  ("joints.mat", "no variable 'joints'")),
            Fault(f"{prefix}-joint-count", mat, edit_mat(fewer), cmd, 1,
                  ("joints.mat", "shape")),
            Fault(f"{prefix}-joints-not-numbers", mat, edit_mat(words), cmd, 1,
                  ("joints.mat", "numbers")),
            Fault(f"{prefix}-joint-nan-is-unlabelled", mat, edit_mat(nan_joint), cmd, 0, ()),
        ]
    rows += _image_faults("lsp_extended", "lsp_extended")

    # FLIC-full examples.mat: a 1 x N struct array.
    mat = "flic_full/examples.mat"
    cmd = ("dataset", "flic_full", "train")
    coords = lambda d: d["examples"][0, 0]["coords"]  # noqa: E731
    rows += [Fault("flic-folder-missing", "flic_full", remove, cmd, 1,
                   ("flic_full", "folder is missing"))]
    rows += _file_faults("flic", mat, cmd, "unreadable")
    rows += [
        Fault("flic-variable-renamed", mat, edit_mat(lambda d: rename_key(d, "examples", "ex")),
              cmd, 1, ("examples.mat", "no variable 'examples'")),
        Fault("flic-field-missing", mat,
              edit_mat(lambda d: d.__setitem__("examples",
                                               drop_struct_field(d["examples"], "coords"))),
              cmd, 1, ("examples.mat", "no field 'coords'")),
        Fault("flic-joint-count", mat,
              edit_mat(lambda d: d.__setitem__("examples", set_struct_field(
                  d["examples"], "coords", coords(d)[:, :28]))),
              cmd, 1, ("examples.mat", "'coords'", "56 values")),
        Fault("flic-coords-not-numbers", mat,
              edit_mat(lambda d: d.__setitem__("examples", set_struct_field(
                  d["examples"], "coords", np.full((2, 29), "x", dtype=object)))),
              cmd, 1, ("examples.mat", "'coords'")),
        Fault("flic-coords-nan-is-unlabelled", mat,
              edit_mat(lambda d: coords(d).__setitem__((slice(None), 0), np.nan)), cmd, 0, ()),
    ]
    rows += _image_faults("flic", "flic_full")

    # COCO person keypoints json.
    ann = "coco/annotations/person_keypoints_train2017.json"
    name = Path(ann).name
    cmd = ("dataset", "coco", "train")

    def kp(d, value):
        d["annotations"][0]["keypoints"] = value

    rows += [Fault("coco-folder-missing", "coco", remove, cmd, 1, ("coco", "folder is missing"))]
    rows += _file_faults("coco", ann, cmd, "not valid json")
    rows += [
        Fault("coco-annotations-renamed", ann,
              edit_json(lambda d: rename_key(d, "annotations", "annots")), cmd, 1,
              (name, "'annotations'")),
        Fault("coco-categories-missing", ann, edit_json(lambda d: d.pop("categories")), cmd, 1,
              (name, "'categories'")),
        Fault("coco-image-field-missing", ann,
              edit_json(lambda d: d["images"][0].pop("file_name")), cmd, 1,
              (name, "images[0]", "'file_name'")),
        Fault("coco-keypoints-missing", ann,
              edit_json(lambda d: d["annotations"][0].pop("keypoints")), cmd, 1,
              (name, "annotations[0]", "'keypoints'")),
        Fault("coco-joint-count", ann,
              edit_json(lambda d: kp(d, d["annotations"][0]["keypoints"][:48])), cmd, 1,
              (name, "'keypoints'", "(48,)")),
        Fault("coco-keypoints-not-numbers", ann, edit_json(lambda d: kp(d, ["x"] * 51)), cmd, 1,
              (name, "'keypoints'", "non-numeric")),
        Fault("coco-unknown-image-id", ann,
              edit_json(lambda d: d["annotations"][0].__setitem__("image_id", -7)), cmd, 1,
              (name, "image_id -7")),
        Fault("coco-keypoint-nan-is-unlabelled", ann,
              edit_json(lambda d: d["annotations"][0]["keypoints"].__setitem__(
                  slice(0, 2), [NAN, NAN])), cmd, 0, ()),
    ]
    rows += _image_faults("coco", "coco")

    # Human3.6M msra_cache pickle: a list of dicts.
    pkl = ("h36m/msra_cache/HM36_eccv_challenge_Train_cache/"
           "HM36_eccv_challenge_Train_w288xh384_keypoint_jnt_bbox_db.pkl")
    name = Path(pkl).name
    cmd = ("dataset", "H36M", "train")

    def setf(key, fn):
        return edit_pickle(lambda d: d[0].__setitem__(key, fn(d[0][key])))

    rows += _file_faults("h36m", pkl, cmd, "unpickled")
    rows += [
        Fault("h36m-not-a-list", pkl, edit_pickle(lambda d: {"db": d}, replace=True), cmd, 1,
              (name, "expected a list")),
        Fault("h36m-field-renamed", pkl,
              edit_pickle(lambda d: rename_key(d[0], "joints_3d", "joints3d")), cmd, 1,
              (name, "record 0", "'joints_3d'")),
        Fault("h36m-joint-count", pkl, setf("joints_3d", lambda a: a[:16]), cmd, 1,
              (name, "'joints_3d'", "(16, 3)")),
        Fault("h36m-joints-not-numbers", pkl,
              setf("joints_3d", lambda a: np.full(a.shape, "x", dtype=object)), cmd, 1,
              (name, "'joints_3d'", "not numeric")),
        Fault("h36m-joint-nan", pkl, setf("joints_3d", lambda a: np.where(
            np.arange(a.size).reshape(a.shape) == 4, np.nan, a)), cmd, 1,
              (name, "'joints_3d'", "NaN")),
        Fault("h36m-box-width-zero", pkl, setf("width", lambda a: 0.0), cmd, 1,
              (name, "'width'", "> 0")),
        Fault("h36m-pickled-object", pkl,
              edit_pickle(lambda d: [Path("x")] + d, replace=True), cmd, 1,
              (name, "refused to unpickle 'pathlib.PosixPath'")),
    ]
    rows += _image_faults("h36m", "H36M")

    # Occlusion-Person pickle: a list of dicts.
    pkl = "occlusion_person/unrealcv_train.pkl"
    name = Path(pkl).name
    cmd = ("dataset", "OcclusionPerson", "train")
    rows += _file_faults("occlusion", pkl, cmd, "unpickled")
    rows += [
        Fault("occlusion-field-renamed", pkl,
              edit_pickle(lambda d: rename_key(d[0], "joints_2d", "kp2d")), cmd, 1,
              (name, "record 0", "'joints_2d'")),
        Fault("occlusion-joint-count", pkl, setf("joints_3d", lambda a: a[:14]), cmd, 1,
              (name, "'joints_3d'", "(14, 3)")),
        Fault("occlusion-joint-nan", pkl, setf("joints_2d", lambda a: a * np.nan), cmd, 1,
              (name, "'joints_2d'", "NaN")),
        Fault("occlusion-scale-negative", pkl, setf("scale", lambda a: -np.abs(a)), cmd, 1,
              (name, "'scale'")),
        Fault("occlusion-image-not-a-string", pkl, setf("image", lambda a: 5), cmd, 1,
              (name, "'image'")),
    ]
    rows += _image_faults("occlusion", "OcclusionPerson")

    # MPI-INF-3DHP and 3DPW VIBE dbs: joblib dicts of equally long arrays.
    for prefix, ds in (("mpii3d", "MPII3D"), ("3dpw", "3DPW")):
        db = f"vibe_db/{prefix}_train_db.pt"
        name = Path(db).name
        cmd = ("dataset", ds, "train")

        def setk(key, fn):
            return edit_joblib(lambda d: d.__setitem__(key, fn(d[key])))

        rows += _file_faults(prefix, db, cmd, "joblib")
        rows += [
            Fault(f"{prefix}-not-a-dict", db, edit_joblib(lambda d: [d], replace=True), cmd, 1,
                  (name, "expected a dict")),
            Fault(f"{prefix}-key-renamed", db,
                  edit_joblib(lambda d: rename_key(d, "joints3D_image", "j2d")), cmd, 1,
                  (name, "'joints3D_image'")),
            Fault(f"{prefix}-joint-count", db, setk("joints3D", lambda a: a[:, :15]), cmd, 1,
                  (name, "'joints3D'", "(4, 15, 3)")),
            Fault(f"{prefix}-joints-not-numbers", db,
                  setk("joints3D", lambda a: np.full(a.shape, "x", dtype=object)), cmd, 1,
                  (name, "'joints3D'", "not numeric")),
            Fault(f"{prefix}-joint-nan", db,
                  setk("joints3D", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 7,
                                                      np.nan, a)), cmd, 1,
                  (name, "'joints3D'", "NaN")),
            Fault(f"{prefix}-unequal-lengths", db, setk("bbox", lambda a: a[:-1]), cmd, 1,
                  (name, "'bbox'", "rows")),
            Fault(f"{prefix}-box-size-zero", db,
                  setk("bbox", lambda a: np.concatenate([a[:, :2], a[:, 2:] * 0], axis=1)), cmd,
                  1, (name, "'bbox'", "non-positive")),
            Fault(f"{prefix}-img-name-wrong", db,
                  setk("img_name", lambda a: np.array(["./elsewhere/" + str(x) for x in a])),
                  cmd, 1, (name, "img_name", "does not exist")),
        ]
        rows += _image_faults(prefix, ds)

    # fusion_3d: either part missing names that part.
    cmd = ("dataset", "fusion_3d", "train")
    rows += [
        Fault("fusion-2d-part-missing", "mpii", remove, cmd, 1, ("mpii", "missing")),
        Fault("fusion-3d-part-missing", "h36m", remove, cmd, 1,
              ("HM36_eccv_challenge_Train", "missing")),
    ]
    return rows


# -- checkpoints -----------------------------------------------------------------------------------
def _tiny_state(arch: str = "hg_1", joints: int = 16, features: int = 16) -> dict:
    from pose3d.models import create_model

    model = create_model(arch, {"hm": joints, "depth": joints}, num_stacks=1, num_modules=1,
                         num_features=features)
    return model.state_dict()


def save_tiny(arch: str = "hg_1", joints: int = 16, features: int = 16) -> Callable:
    def make(path: Path) -> None:
        import torch

        torch.save({"epoch": 1, "state_dict": _tiny_state(arch, joints, features)}, path)
    return make


def save_then(fn: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        save_tiny()(path)
        fn(path)
    return make


class Foreign:
    """A class a checkpoint must not be allowed to instantiate."""

    def __reduce__(self):
        return (print, ("unpickled!",))


def save_pickled_object(path: Path) -> None:
    import torch

    torch.save({"epoch": 1, "state_dict": _tiny_state(), "extra": Foreign()}, path)


def save_nan_weights(path: Path) -> None:
    import torch

    sd = _tiny_state()
    key = next(k for k, v in sd.items() if v.is_floating_point())
    sd[key] = sd[key] * float("nan")
    torch.save({"epoch": 1, "state_dict": sd}, path)


def save_no_weights(path: Path) -> None:
    import torch

    torch.save({"epoch": 1, "optimizer": {}}, path)


def checkpoint_faults() -> list[Fault]:
    cmd = ("weights", "hg_1")
    return [
        Fault("ckpt-missing", CKPT, lambda p: None, cmd, 1, ("model.pth", "not found")),
        Fault("ckpt-is-a-folder", CKPT, lambda p: p.mkdir(), cmd, 1, ("model.pth", "folder")),
        Fault("ckpt-empty", CKPT, save_then(empty), cmd, 1, ("model.pth", "not a readable")),
        Fault("ckpt-truncated", CKPT, save_then(truncate), cmd, 1,
              ("model.pth", "truncated or corrupt")),
        Fault("ckpt-garbage", CKPT, save_then(garbage), cmd, 1, ("model.pth", "not a readable")),
        Fault("ckpt-other-architecture", CKPT, save_tiny("hg_2"), cmd, 1,
              ("model.pth", "do not fit --arch hg_1", "unexpected")),
        Fault("ckpt-other-width", CKPT, save_tiny(features=32), cmd, 1,
              ("model.pth", "do not fit --arch hg_1", "another shape")),
        Fault("ckpt-other-joint-count", CKPT, save_tiny(joints=17), cmd, 1,
              ("model.pth", "17", "another shape")),
        Fault("ckpt-pickled-object", CKPT, save_pickled_object, cmd, 1,
              ("model.pth", "refuses to unpickle")),
        Fault("ckpt-no-weights", CKPT, save_no_weights, cmd, 1, ("model.pth", "no model weights")),
        Fault("ckpt-nan-weights", CKPT, save_nan_weights, cmd, 1, ("model.pth", "NaN or inf")),
    ]


# -- flags -----------------------------------------------------------------------------------------
TINY = ["--task", "human3d", "--arch", "hg_1", "--num_features", "16", "--num_modules", "1",
        "--input_h", "64", "--input_w", "64", "--batch_size", "2", "--num_epochs", "1",
        "--num_workers", "0", "--device", "cpu", "--weight_3d", "1"]


def flag_faults() -> list[Fault]:
    def bad(fid: str, argv: list[str], flag: str) -> Fault:
        return Fault(f"flag-{fid}", "", lambda p: None, ("flags", argv), 2, (flag,))

    return [
        bad("dataset", ["--dataset", "mpi"], "--dataset"),
        bad("dataset2D", ["--dataset2D", "coco3d"], "--dataset2D"),
        bad("dataset3D", ["--dataset3D", "mpii"], "--dataset3D"),
        bad("task", ["--task", "human4d"], "--task"),
        bad("optim", ["--optim_type", "rmsprop"], "--optim_type"),
        bad("arch-depth", ["--arch", "msra_19"], "--arch"),
        bad("arch-name", ["--arch", "vit"], "--arch"),
        bad("num-stacks", ["--arch", "hg", "--num_stacks", "0"], "--num_stacks"),
        bad("num-stacks-contradicts", ["--arch", "hg_2", "--num_stacks", "3"], "--num_stacks"),
        bad("lr-zero", ["--lr", "0"], "--lr"),
        bad("lr-text", ["--lr", "fast"], "--lr"),
        bad("batch-size", ["--batch_size", "0"], "--batch_size"),
        bad("num-epochs", ["--num_epochs", "-1"], "--num_epochs"),
        bad("num-modules", ["--num_modules", "0"], "--num_modules"),
        bad("num-features", ["--num_features", "0"], "--num_features"),
        bad("num-workers", ["--num_workers", "-1"], "--num_workers"),
        bad("weight-3d", ["--weight_3d", "-1"], "--weight_3d"),
        bad("weight-var", ["--weight_var", "-1"], "--weight_var"),
        bad("weight-decay", ["--weight_decay", "-1"], "--weight_decay"),
        bad("scale", ["--scale", "-2"], "--scale"),
        bad("rotate", ["--rotate", "-2"], "--rotate"),
        bad("flip", ["--flip", "1.5"], "--flip"),
        bad("grad-clip", ["--grad_clip", "0"], "--grad_clip"),
        bad("max-bad-steps", ["--max_bad_steps", "-1"], "--max_bad_steps"),
        bad("input-size", ["--input_h", "0"], "--input_h"),
        bad("output-not-divisor", ["--input_h", "64", "--input_w", "64", "--output_h", "15",
                                   "--output_w", "16"], "--output_h"),
        bad("stride", ["--input_h", "64", "--input_w", "64", "--output_h", "32",
                       "--output_w", "32"], "--output_h"),
        bad("msra-size", ["--arch", "msra_18", "--input_h", "80", "--input_w", "80"], "--input_h"),
        bad("gpus-text", ["--gpus", "a,b"], "--gpus"),
        bad("gpus-empty", ["--gpus", ","], "--gpus"),
        bad("gpus-cpu-contradiction", ["--gpus", "-1", "--device", "cuda"], "--gpus"),
        bad("lr-step", ["--lr_step", "90,x"], "--lr_step"),
        bad("bbox", ["--bbox", "1,2,3"], "--bbox"),
        bad("device", ["--device", "tpu"], "--device"),
        bad("amp", ["--amp", "fp8"], "--amp"),
        bad("amp-and-apex", ["--amp", "bf16", "--apex", "O1"], "--apex"),
        bad("backend", ["--backend", "tensorrt"], "--backend"),
        bad("unknown-flag", ["--learning_rate", "0.1"], "--learning_rate"),
    ]


def run_faults() -> list[Fault]:
    """Flags and files that only the run itself can judge (exit 1)."""
    base = TINY + ["--dataset", "H36M", "--data_dir", "{root}", "--exp_dir", "{root}/../exp"]

    def make_file(rel: str) -> Callable[[Path], None]:
        def make(root: Path) -> None:
            (root.parent / rel).write_text("a file, not a folder\n")
        return make

    return [
        Fault("run-metric-unknown", "", lambda p: None, ("run", base + ["--metric", "mAP"]), 1,
              ("--metric mAP", "choose from")),
        Fault("run-exp-dir-is-a-file", ".", make_file("exp"), ("run", base), 1,
              ("exp", "cannot write", "--exp_dir")),
        Fault("run-data-dir-missing", "", lambda p: None,
              ("run", TINY + ["--dataset", "H36M", "--data_dir", "{root}/nowhere",
                              "--exp_dir", "{root}/../exp"]), 1,
              ("nowhere", "missing")),
        Fault("run-load-model-missing", "", lambda p: None,
              ("run", base + ["--load_model", "{root}/none.pth"]), 1, ("none.pth", "not found")),
        Fault("run-load-model-truncated", CKPT, save_then(truncate),
              ("run", base + ["--load_model", "{ckpt}"]), 1, ("model.pth", "truncated")),
        Fault("run-resume-corrupt", CKPT + "/model_last.pth", save_then(garbage),
              ("run", base + ["--resume", "--save_dir", "{ckpt_dir}"]), 1,
              ("model_last.pth", "not a readable")),
    ]


def main_faults() -> list[Fault]:
    """A handful of real runs of ``src/main.py`` / ``src/demo.py``: one line on stderr, exit
    status, no traceback."""
    base = TINY + ["--dataset", "H36M", "--data_dir", "{root}", "--exp_dir", "{root}/../exp"]
    pkl = ("h36m/msra_cache/HM36_eccv_challenge_Train_cache/"
           "HM36_eccv_challenge_Train_w288xh384_keypoint_jnt_bbox_db.pkl")
    return [
        Fault("main-bad-flag", "", lambda p: None, ("main", base + ["--lr", "-1"]), 2, ("--lr",)),
        Fault("main-data-missing", "h36m", remove, ("main", base), 1,
              ("HM36_eccv_challenge", "missing")),
        Fault("main-annotation-truncated", pkl, truncate, ("main", base), 1,
              ("HM36_eccv_challenge_Train", "unpickled")),
        # In a DataLoader worker: without care this is a multi-line RuntimeError.
        Fault("main-image-missing-in-worker", "h36m/ECCV18_Challenge/Train/IMG", remove_images,
              ("main", base + ["--num_workers", "1"]), 1, ("IMG", "image file is missing")),
        Fault("main-checkpoint-other-arch", CKPT, save_tiny("hg_2"),
              ("main", base + ["--load_model", "{ckpt}"]), 1,
              ("model.pth", "do not fit --arch hg_1")),
        Fault("main-debug-shows-traceback", "h36m", remove, ("main", base + ["--debug", "1"]), 1,
              ("Traceback", "missing")),
        Fault("demo-image-missing", "", lambda p: None,
              ("demo", TINY[:8] + ["--demo", "{root}/none.jpg", "--exp_dir", "{root}/../exp"]),
              1, ("--demo", "none.jpg", "no such file")),
        Fault("demo-not-an-image", "mpii/images/000000001.jpg", text,
              ("demo", TINY[:8] + ["--demo", "{root}/mpii/images/000000001.jpg", "--exp_dir",
                                   "{root}/../exp"]), 1,
              ("000000001.jpg", "not a readable image")),
    ]


def remove_images(folder: Path) -> None:
    """Delete every image of the folder (the loader only looks at them when reading samples)."""
    for f in folder.iterdir():
        f.unlink()


FAULTS: list[Fault] = (dataset_faults() + checkpoint_faults() + flag_faults() + run_faults()
                       + main_faults())
assert len({f.id for f in FAULTS}) == len(FAULTS), "fault ids must be unique"
