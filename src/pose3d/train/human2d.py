"""Trainer2D (``--task human2d``): heatmap loss, the original's ``acc``, PCKh / PCK on validation."""
from __future__ import annotations

import numpy as np

from pose3d.evaluation.metrics import heatmap_accuracy, pck, torso_size
from pose3d.evaluation.pckh import check_person_count, format_pckh_table, load_gt_valid, pckh
from pose3d.inference import decode_2d, merge_stacks
from pose3d.skeleton import ACC_IDXS, MPII16

from .base import BaseTrainer, to_numpy


class Trainer2D(BaseTrainer):
    def batch_metrics(self, outputs, batch):
        acc, _ = heatmap_accuracy(merge_stacks(outputs)["hm"], batch["target"], ACC_IDXS)
        return {"acc": (acc, 1)}

    def collect(self, pred, batch, store):
        meta = batch["meta"]
        acc, _ = heatmap_accuracy(pred["hm"], batch["target"], ACC_IDXS)
        coords, _ = decode_2d(pred["hm"], to_numpy(meta["center"]), to_numpy(meta["scale"]))
        store.setdefault("preds_2d", []).extend(coords)
        store.setdefault("joints_img", []).extend(to_numpy(meta["joints_img"]))
        store.setdefault("vis_img", []).extend(to_numpy(meta["vis_img"]))
        store.setdefault("index", []).extend(to_numpy(meta["index"]).tolist())
        return {"acc": (acc, 1)}

    def summarise(self, store, dataset):
        metrics, results = {}, {}
        if not store:
            return metrics, results
        preds = np.asarray(store["preds_2d"])
        gt, vis = np.asarray(store["joints_img"]), np.asarray(store["vis_img"])
        gt_valid = dataset.data_dir / "mpii" / "annot" / "gt_valid.mat"
        if dataset.name == "mpii" and dataset.split == "val" and gt_valid.is_file() \
                and len(preds) == len(dataset.records):
            gt = load_gt_valid(gt_valid)
            check_person_count(gt_valid, gt["pos_gt_src"].shape[-1], dataset.annotation_file(),
                               len(dataset.records))
            res = pckh(preds, gt)
            metrics["pckh"] = res["Mean"]
            results["pckh"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                               for k, v in res.items()}
            results["pckh_per_joint"] = dict(zip(MPII16.names, res["per_joint"].tolist()))
        else:
            mean, per_joint = pck(preds, gt, torso_size(gt, vis), vis, thr=0.2)
            metrics["pck"] = mean
            results["pck_per_joint"] = dict(zip(MPII16.names, per_joint.tolist()))
        return metrics, results

    def report(self, metrics, results) -> str:
        lines = [f"acc {metrics.get('acc', float('nan')):.4f}"]
        if "pckh" in results:
            lines.append(format_pckh_table(results["pckh"]))
        if "pck" in metrics:
            lines.append(f"PCK@0.2 {metrics['pck']:.2f}")
        return "\n".join(lines)
