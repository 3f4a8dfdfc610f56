"""Summarise a quick start: MPJPE / PA-MPJPE against the mean-pose baseline, PCKh, where things are.

    python scripts/quickstart_summary.py --data_dir data/synthetic --exp_dir exp --prefix quickstart

Writes ``<exp_dir>/<prefix>_summary.json`` and prints a short table with the quick start's two bars:
an MPJPE at least 25% below the mean pose's and a PCKh at least 1.5 times the mean pose's. The
numbers are on synthetic data and say that the pipeline learns; they are not comparable with the
published H36M result.
"""
import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# What the CPU quick start (random initialisation, about 10 minutes of training) must reach.
MPJPE_BAR = 0.25  # MPJPE at least this fraction below the mean pose's
PCKH_BAR = 1.5  # PCKh at least this multiple of the mean pose's


def _verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def main(argv=None) -> dict:
    import mean_pose_baseline

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data_dir", default="data/synthetic")
    p.add_argument("--exp_dir", default="exp")
    p.add_argument("--prefix", default="quickstart")
    p.add_argument("--input", type=int, default=128)
    p.add_argument("--output", type=int, default=32)
    p.add_argument("--seconds", type=float, default=None)
    args = p.parse_args(argv)
    exp = Path(args.exp_dir)
    h36m = json.loads((exp / f"{args.prefix}_s3FULL_TEST" / "results.json").read_text())["metrics"]
    mpii = json.loads((exp / f"{args.prefix}_s3_mpiiTEST" / "results.json").read_text())["metrics"]
    base = mean_pose_baseline.main(["--data_dir", args.data_dir, "--input", str(args.input),
                                    "--output", str(args.output)])
    b3 = base["mean_pose_3d"]
    summary = {
        "mpjpe": h36m["mpjpe"], "pa_mpjpe": h36m["pa_mpjpe"],
        "mean_pose_mpjpe": b3["mpjpe"], "mean_pose_pa_mpjpe": b3["pa_mpjpe"],
        "mpjpe_reduction": 1 - h36m["mpjpe"] / b3["mpjpe"],
        "pckh": mpii.get("pckh"), "mean_pose_pckh": base.get("mean_pose_2d_pckh"),
        "seconds": args.seconds,
    }
    summary["pckh_ratio"] = (summary["pckh"] / summary["mean_pose_pckh"]
                             if summary["pckh"] is not None and summary["mean_pose_pckh"] else None)
    summary["mpjpe_pass"] = summary["mpjpe_reduction"] >= MPJPE_BAR
    summary["pckh_pass"] = summary["pckh_ratio"] is not None and summary["pckh_ratio"] >= PCKH_BAR
    (exp / f"{args.prefix}_summary.json").write_text(json.dumps(summary, indent=2))
    print("\nQuick start on SYNTHETIC data (not comparable with the published H36M numbers)")
    print(f"  H36M val (full)  MPJPE {summary['mpjpe']:.1f} mm"
          f"   PA-MPJPE {summary['pa_mpjpe']:.1f} mm"
          f"   (mean-pose baseline {b3['mpjpe']:.1f} / {b3['pa_mpjpe']:.1f} mm)")
    if summary["pckh"] is not None:
        print(f"  MPII val         PCKh@0.5 {summary['pckh']:.1f}"
              f"   (mean-pose baseline {summary['mean_pose_pckh']:.1f})")
    print(f"  bar MPJPE        {100 * summary['mpjpe_reduction']:.0f}% below the mean pose"
          f" (bar {100 * MPJPE_BAR:.0f}%): {_verdict(summary['mpjpe_pass'])}")
    if summary["pckh_ratio"] is not None:
        print(f"  bar PCKh         {summary['pckh_ratio']:.2f}x the mean pose"
              f" (bar {PCKH_BAR:.1f}x): {_verdict(summary['pckh_pass'])}")
    print(f"  results          {exp}/{args.prefix}_s3FULL_TEST/results.json, "
          f"{exp}/{args.prefix}_s3_mpiiTEST/results.json")
    print(f"  demo pictures    {exp}/demo/")
    if args.seconds is not None:
        print(f"  time             {args.seconds / 60:.1f} min")
    return summary


if __name__ == "__main__":
    main()
