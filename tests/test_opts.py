"""pose3d.opts: the original defaults and commands, derived settings, one-line errors."""
import json
import os
import subprocess
import sys

import pytest

from pose3d import opts as opts_mod
from pose3d.options import derived
from pose3d.opts import build_parser, parse
from pose3d.paths import EXP_DIR, REPO_ROOT, SRC_DIR
from pose3d.utils.logger import Logger, save_opts


def _parse(cmd: str):
    return parse(cmd.split())


def _same_path(got: str, typed: str) -> bool:
    # A relative --load_model is kept, or resolved from src/ when it exists there.
    return got in (typed, str((SRC_DIR / typed).resolve()))


def test_defaults_match_the_fork_table():
    o = parse([])
    expected = dict(
        exp_id="default", gpus=[0], num_workers=4, test=False, debug=0, demo="", task="human2d",
        ratio_3d=1.0, weight_3d=0, weight_var=0, full_test=False, hide_data_time=False,
        metric="acc", resume=False, load_model="", optim_type="adam", weight_decay=0.0,
        scale=0.25, rotate=30, flip=0.5, dataset="mpii", dataset2D="mpii", dataset3D="H36M",
        all_pts=False, multi_person=False, fit_short_side=False, lr=0.001, lr_step=[90, 120],
        num_epochs=140, val_intervals=5, batch_size=32, arch="msra_50", disable_cudnn=False,
        save_all_models=False, print_iter=-1, input_h=256, input_w=256, output_h=64,
        output_w=64, random_seed=0, grad_clip=None,
        # derived constants
        eps=1e-6, momentum=0.0, alpha=0.99, epsilon=1e-8, hm_gauss=2, num_stacks=1,
        num_output=16, num_output_depth=0, heads={"hm": 16},
        # additions
        device="auto", amp="off", apex=None, num_modules=2, num_features=256,
        channels_last=False, compile=False, max_bad_steps=10, backend="pytorch", bbox=None,
        show=False,
    )
    for key, value in expected.items():
        assert getattr(o, key) == value, key
    assert o.save_dir == str(EXP_DIR / "default")
    assert o.data_dir == str(REPO_ROOT / "data")
    assert o.exp_dir == str(EXP_DIR)


def test_original_stage_commands():
    s1 = _parse("--exp_id mpii")
    assert (s1.exp_id, s1.dataset, s1.task, s1.heads) == ("mpii", "mpii", "human2d", {"hm": 16})

    typed = "../exp/mpii/model_last.pth"
    s2 = _parse("--exp_id fusion_3d --task human3d --dataset fusion_3d --ratio_3d 1 --weight_3d "
                f"0.1 --load_model {typed} --num_epoch 60 --lr_step 45")
    assert s2.num_epochs == 60 and s2.lr_step == [45] and s2.weight_3d == 0.1
    assert s2.ratio_3d == 1.0 and s2.heads == {"hm": 16, "depth": 16}
    assert s2.dataset2D == "mpii" and s2.dataset3D == "H36M"
    assert _same_path(s2.load_model, typed)

    s3 = _parse("--exp_id fusion_3d_var --task human3d --dataset fusion_3d --ratio_3d 1 "
                "--weight_3d 0.1 --weight_var 0.01 --load_model ../models/fusion_3d.pth "
                "--num_epoch 10 --lr 1e-4")
    assert (s3.num_epochs, s3.lr, s3.lr_step, s3.weight_var) == (10, 1e-4, [90, 120], 0.01)
    assert s3.save_dir == str(EXP_DIR / "fusion_3d_var")


def test_fork_commands():
    s1 = _parse("--exp_id mpii --dataset mpii")
    assert s1.dataset == "mpii"
    s2 = _parse("--exp_id fusion_3d --task human3d --dataset fusion_3d --dataset2D mpii "
                "--dataset3D H36M --ratio_3d 1 --weight_3d 0.1 --load_model "
                "../exp/mpii/model_last.pth --num_epoch 60 --lr_step 45")
    assert (s2.dataset2D, s2.dataset3D, s2.num_epochs) == ("mpii", "H36M", 60)
    ex2 = _parse("--exp_id exclusive_3d_s2 --task human3d --dataset H36M --dataset3D H36M "
                 "--ratio_3d 0 --weight_3d 1.0 --num_epoch 60 --lr_step 45")
    assert (ex2.dataset, ex2.ratio_3d, ex2.weight_3d, ex2.load_model) == ("H36M", 0.0, 1.0, "")
    ex3 = _parse("--exp_id exclusive_3d_s3 --task human3d --dataset H36M --dataset3D H36M "
                 "--ratio_3d 0 --weight_3d 0.1 --load_model ../exp/exclusive_3d_s2/model_best.pth"
                 " --num_epoch 10 --lr 1e-4")
    assert (ex3.num_epochs, ex3.lr) == (10, 1e-4)
    op = _parse("--exp_id try_op_3d --task human3d --dataset OcclusionPerson --weight_3d 0.1 "
                "--load_model ../exp/mpii/model_last.pth --num_epoch 60 --lr_step 45")
    assert op.dataset == "OcclusionPerson" and op.heads == {"hm": 16, "depth": 16}


def test_test_command_suffix_and_save_dir():
    t = _parse("--exp_id test --task human3d --dataset fusion_3d --load_model "
               "../models/fusion_3d_var.pth --test --full_test")
    assert t.exp_id == "testFULL_TEST" and t.save_dir == str(EXP_DIR / "testFULL_TEST")
    assert t.test and t.full_test
    t2 = _parse("--exp_id mpii --test")
    assert t2.exp_id == "mpiiTEST" and t2.save_dir == str(EXP_DIR / "mpiiTEST")


def test_resume_reads_the_training_folder_even_in_test_mode():
    r = _parse("--exp_id mpii --resume --load_model other.pth")
    assert r.load_model == str(EXP_DIR / "mpii" / "model_last.pth")
    # The original searched exp/mpiiTEST.
    rt = _parse("--exp_id mpii --resume --test")
    assert rt.load_model == str(EXP_DIR / "mpii" / "model_last.pth")
    assert rt.save_dir == str(EXP_DIR / "mpiiTEST")


def test_abbreviations_and_case():
    o = _parse("--num_epoch 60 --lr_st 45 --dataset h36m --dataset3D mpii3d --optim_type SGD")
    assert (o.num_epochs, o.lr_step, o.dataset, o.dataset3D) == (60, [45], "H36M", "MPII3D")
    assert o.optim_type == "sgd"


def test_load_model_relative_to_src(tmp_path, monkeypatch):
    src = tmp_path / "repo" / "src"
    (tmp_path / "repo" / "models").mkdir(parents=True)
    src.mkdir()
    (tmp_path / "repo" / "models" / "m.pth").write_bytes(b"x")
    monkeypatch.setattr(derived, "SRC_DIR", src)
    monkeypatch.chdir(tmp_path)
    o = _parse("--load_model ../models/m.pth")
    assert o.load_model == str((tmp_path / "repo" / "models" / "m.pth").resolve())


def test_derived_resolutions_and_aug():
    coco = _parse("--dataset coco")
    assert (coco.input_h, coco.input_w, coco.output_h, coco.output_w) == (256, 192, 64, 48)
    assert (coco.scale, coco.rotate, coco.num_output) == (0.3, 40, 16)
    small = _parse("--arch msra_18 --input_h 128 --input_w 128 --output_h 32 --output_w 32")
    assert (small.input_h, small.output_w) == (128, 32)
    partial = _parse("--input_h 128 --input_w 128")
    assert (partial.output_h, partial.output_w) == (32, 32)
    assert _parse("--scale 0.1 --rotate 5").scale == 0.1
    assert _parse("--debug 1").num_workers == 1


def test_hourglass_stacks():
    assert _parse("--arch hg").num_stacks == 2
    assert _parse("--arch hg --num_stacks 1").num_stacks == 1
    assert _parse("--arch hg_4").num_stacks == 4
    assert _parse("--arch msra_50 --num_stacks 3").num_stacks == 1


def test_demo_options():
    d = _parse("--demo images --bbox 10,20,100,200")
    assert d.bbox == [10.0, 20.0, 100.0, 200.0]
    assert d.save_dir == str(EXP_DIR / "demo")


BAD = [
    (["--dataset", "mpi"], "--dataset"),
    (["--dataset2D", "H36M"], "--dataset2D"),
    (["--dataset3D", "mpii"], "--dataset3D"),
    (["--arch", "resnet_50"], "--arch"),
    (["--arch", "msra_42"], "--arch"),
    (["--task", "human4d"], "--task"),
    (["--optim_type", "rmsprop"], "--optim_type"),
    (["--lr", "0"], "--lr"),
    (["--lr", "-1e-3"], "--lr"),
    (["--batch_size", "0"], "--batch_size"),
    (["--num_epochs", "0"], "--num_epochs"),
    (["--input_h", "250", "--input_w", "256", "--output_h", "64", "--output_w", "64"],
     "--input_h"),
    (["--input_h", "256", "--input_w", "128", "--output_h", "64", "--output_w", "64"],
     "--input_h"),
    (["--input_h", "256", "--input_w", "256", "--output_h", "32", "--output_w", "32"],
     "--output_h"),
    (["--gpus", "a"], "--gpus"),
    (["--lr_step", "90;120"], "--lr_step"),
    (["--batch_size", "x"], "--batch_size"),
    (["--device", "tpu"], "--device"),
    (["--amp", "fp8"], "--amp"),
    (["--amp", "bf16", "--apex", "O1"], "--apex"),
    (["--arch", "hg_2", "--num_stacks", "3"], "--num_stacks"),
    (["--gpus", "-1", "--device", "cuda"], "--gpus"),
    (["--bbox", "1,2,3"], "--bbox"),
    (["--flip", "2"], "--flip"),
    (["--grad_clip", "0"], "--grad_clip"),
]


@pytest.mark.parametrize("argv,flag", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_values_exit_2_in_one_line(argv, flag, capsys):
    with pytest.raises(SystemExit) as exc:
        parse(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert flag in err and "Traceback" not in err


def test_bad_value_message_lists_allowed_values(capsys):
    with pytest.raises(SystemExit):
        parse(["--dataset", "mpi"])
    err = capsys.readouterr().err
    assert "'mpi'" in err and "lsp_extended" in err and "OcclusionPerson" in err


def test_bad_value_in_a_real_process_has_no_traceback():
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    env.pop("WORLD_SIZE", None)
    proc = subprocess.run(
        [sys.executable, "-c", "from pose3d.opts import parse; parse(['--arch', 'vgg'])"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 2
    assert "--arch" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_multi_gpu_outside_torchrun_prints_the_torchrun_command(capsys):
    with pytest.raises(SystemExit) as exc:
        parse(["--exp_id", "mpii", "--gpus", "0,1", "--batch_size", "16"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "torchrun --nproc_per_node 2" in err
    assert "--exp_id mpii --batch_size 16" in err and "--gpus" not in err.split("torchrun")[1]
    with pytest.raises(SystemExit):
        parse(["--gpu=2,3"])
    err = capsys.readouterr().err
    assert "CUDA_VISIBLE_DEVICES=2,3 torchrun --nproc_per_node 2" in err


def test_multi_gpu_under_torchrun_is_accepted(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert parse(["--gpus", "0,1"]).gpus == [0, 1]


def test_help_groups_and_batch_size_text():
    text = build_parser().format_help()
    assert "pose3d additions:" in text
    assert "per GPU/process" in text and "number of processes" in text


def test_save_opts_and_logger(tmp_path):
    o = parse(["--exp_dir", str(tmp_path), "--exp_id", "run"])
    txt = save_opts(o, tmp_path / "x")
    body = txt.read_text()
    assert "==> torch version:" in body and "==> Cmd:" in body and "  lr: 0.001" in body
    data = json.loads((tmp_path / "x" / "opt.json").read_text())
    assert data["heads"] == {"hm": 16} and data["gpus"] == [0]

    logger = Logger(o)
    logger.write("epoch: 1 | ")
    logger.write("loss 0.5 | \n")
    logger.write("a\nb\n")
    logger.scalar_summary("train_loss", 0.5, 1)
    logger.close()
    logger.close()
    assert (tmp_path / "run" / "opt.txt").is_file()
    assert (logger.log_dir / "opt.txt").is_file()
    lines = (logger.log_dir / "log.txt").read_text().splitlines()
    assert len(lines) == 3 and all(": " in line[:20] for line in lines)
    assert lines[0].endswith("epoch: 1 | loss 0.5 | ")

    quiet = Logger(parse(["--exp_dir", str(tmp_path), "--exp_id", "rank1"]), enabled=False)
    quiet.write("x\n")
    quiet.scalar_summary("t", 1.0, 1)
    quiet.close()
    assert not (tmp_path / "rank1").exists()


def test_logger_without_tensorboardx(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import now raises ImportError
    logger = Logger(parse(["--exp_dir", str(tmp_path)]))
    assert logger.writer is None
    logger.scalar_summary("val_mpjpe", 60.0, 5)
    logger.write("ok\n")
    logger.close()


def test_coco_predicts_the_16_joints_its_loader_returns():
    from pose3d.skeleton import MPII16

    for task in ("human2d", "human3d"):
        o = _parse(f"--dataset coco --task {task}")
        assert o.num_output == MPII16.num_joints == len(MPII16.flip_index) == 16
        assert set(o.heads.values()) == {16}


def test_unused_flags_say_so_in_help():
    helps = {a.dest: a.help for a in build_parser()._actions}
    for flag in ("all_pts", "multi_person"):
        assert "no effect, as in the original" in helps[flag]
        assert getattr(_parse(f"--{flag}"), flag) is True  # still accepted
    assert "no effect" not in helps["debug"]


@pytest.mark.parametrize("level", ["0", "1", "2", "3"])
def test_debug_levels_are_accepted(level):
    assert _parse(f"--debug {level}").debug == int(level)


def test_dataset_choices_are_the_registry():
    from pose3d.datasets import DATASETS

    assert set(opts_mod.DATASETS) == set(DATASETS)
    for name in opts_mod.DATASETS_3D:
        assert DATASETS[name].is_3d
    for name in opts_mod.DATASETS_2D:
        assert not DATASETS[name].is_3d


def test_logger_skips_undefined_scalars(tmp_path):
    logger = Logger(parse(["--exp_dir", str(tmp_path)]))
    added = []
    logger.writer = type("W", (), {"add_scalar": lambda self, *a: added.append(a),
                                    "close": lambda self: None})()
    assert logger.scalar_summary("val_pck", float("nan"), 1) is False
    assert logger.scalar_summary("val_pck", None, 1) is False
    assert logger.scalar_summary("val_acc", 0.5, 1) is True
    logger.close()
    assert added == [("val_acc", 0.5, 1)]


@pytest.mark.parametrize("argv,flag", [
    ("--arch msra_18 --num_features 32", "--num_features"),
    ("--arch msra_50 --num_modules 1", "--num_modules"),
    ("--weight_3d 0.1", "--weight_3d"),
    ("--task human2d --weight_var 0.01", "--weight_var"),
])
def test_flags_without_effect_are_refused(argv, flag, capsys):
    with pytest.raises(SystemExit) as exc:
        _parse(argv)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and err.count("\n") == 0 and flag in err and "no effect" in err
    # The same values are fine where they are read.
    _parse("--arch hg --num_features 32 --num_modules 1 --task human3d --weight_3d 0.1 "
           "--weight_var 0.01")
