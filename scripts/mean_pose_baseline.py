"""Print the mean-pose baselines a trained model must beat, as JSON.

    python scripts/mean_pose_baseline.py --data_dir data/synthetic [--dataset3D H36M]
        [--dataset2D mpii] [--input 128 --output 32]

3D: MPJPE / PA-MPJPE of the training set's mean root-relative pose on the full validation split,
with the same 4000 mm protocol as ``--test --full_test``. 2D: PCKh@0.5 (MPII) of the training
set's mean pose placed in every validation crop.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def main(argv=None) -> dict:
    from pose3d.datasets import DataConfig, get_dataset
    from pose3d.evaluation.baselines import mean_pose_2d, mean_pose_3d
    from pose3d.evaluation.pckh import load_gt_valid, pckh
    from pose3d.inference import decode_2d

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data_dir", required=True)
    p.add_argument("--dataset3D", default="H36M")
    p.add_argument("--dataset2D", default="mpii")
    p.add_argument("--input", type=int, default=128)
    p.add_argument("--output", type=int, default=32)
    args = p.parse_args(argv)
    cfg = DataConfig(input_h=args.input, input_w=args.input, output_h=args.output,
                     output_w=args.output, full_test=True)
    out = {}
    if args.dataset3D:
        ds = get_dataset(args.dataset3D)
        train, val = ds("train", args.data_dir, cfg), ds("val", args.data_dir, cfg)
        out["mean_pose_3d"] = mean_pose_3d(np.stack([r["gt_3d"] for r in train.records]),
                                           np.stack([r["gt_3d"] for r in val.records]))
    if args.dataset2D:
        ds = get_dataset(args.dataset2D)
        train, val = ds("train", args.data_dir, cfg), ds("val", args.data_dir, cfg)
        cells, vis = [], []
        for i in range(len(train)):
            s = train.make_sample(train.records[i], i)  # unaugmented crops
            cells.append(s["meta"]["pts_crop"])
            vis.append(s["meta"]["vis"])
        mean = mean_pose_2d(np.stack(cells), np.stack(vis))
        preds = []
        for r in val.records:
            hm = np.zeros((1, 16, args.output, args.output), np.float32)
            for j, (x, y) in enumerate(np.clip(np.round(mean), 0, args.output - 1).astype(int)):
                hm[0, j, y, x] = 1
            s = val.make_sample(r, 0)
            coords, _ = decode_2d(torch.from_numpy(hm), s["meta"]["center"][None],
                                  s["meta"]["scale"][None])
            preds.append(coords[0])
        gt_path = val.data_dir / "mpii" / "annot" / "gt_valid.mat"
        if args.dataset2D == "mpii" and gt_path.is_file():
            out["mean_pose_2d_pckh"] = pckh(np.stack(preds), load_gt_valid(gt_path))["Mean"]
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
