"""Trainer3D (``--task human3d``): + depth and bone losses; MPJPE with the original's protocol.

Validation reports ``mpjpe`` (17 H36M joints, skeleton rescaled to 4000 mm, root included, no
alignment: the protocol of the published 64.55 mm), ``pa_mpjpe`` and ``n_mpjpe`` on the same
rescaled skeleton, per joint and per action (H36M) or sequence, and 3DPCK@150 mm / AUC.
"""
from __future__ import annotations

import numpy as np

from pose3d.evaluation.h36m import h36m_protocol, per_group_mean
from pose3d.evaluation.metrics import auc_3d, heatmap_accuracy, n_mpjpe, pck_3d
from pose3d.inference import decode_3d, merge_stacks
from pose3d.skeleton import ACC_IDXS, H36M17

from .base import to_numpy
from .human2d import Trainer2D


class Trainer3D(Trainer2D):
    """3D metrics on 3D datasets; on a 2D dataset (``--dataset mpii --test``) the 2D ones."""

    def batch_metrics(self, outputs, batch):
        out = merge_stacks(outputs)
        acc, _ = heatmap_accuracy(out["hm"], batch["target"], ACC_IDXS)
        metrics = {"acc": (acc, 1)}
        if "depth" in out:
            pred = decode_3d(out["hm"].detach().float(), out["depth"].detach().float())
            res = h36m_protocol(pred, to_numpy(batch["meta"]["gt_3d"]))
            if res.valid.any():
                metrics["mpjpe"] = (float(np.nanmean(res.errors)), int(res.valid.sum()))
        return metrics

    def collect(self, pred, batch, store):
        meta = batch["meta"]
        out = super().collect(pred, batch, store)
        if "depth" not in pred:
            return out
        res = h36m_protocol(decode_3d(pred["hm"], pred["depth"]), to_numpy(meta["gt_3d"]))
        store.setdefault("pred_3d", []).extend(res.pred_mm)
        store.setdefault("gt_3d", []).extend(to_numpy(meta["gt_3d"]))
        store.setdefault("errors", []).extend(res.errors)
        store.setdefault("pa_errors", []).extend(res.pa_errors)
        store.setdefault("per_joint", []).extend(res.per_joint)
        store.setdefault("valid", []).extend(res.valid)
        store.setdefault("group", []).extend(list(meta["group"]))
        if res.valid.any():
            out["mpjpe"] = (float(np.nanmean(res.errors)), int(res.valid.sum()))
        return out

    def summarise(self, store, dataset):
        if not store or not getattr(dataset, "is_3d", False) or "valid" not in store:
            return super().summarise(store, dataset)
        valid = np.asarray(store["valid"], dtype=bool)
        pred, gt = np.asarray(store["pred_3d"])[valid], np.asarray(store["gt_3d"])[valid]
        errors = np.asarray(store["errors"])
        pa = np.asarray(store["pa_errors"])
        groups = list(store["group"])
        metrics = {
            "mpjpe": float(np.nanmean(errors[valid])) if valid.any() else float("nan"),
            "pa_mpjpe": float(np.nanmean(pa[valid])) if valid.any() else float("nan"),
            "n_mpjpe": n_mpjpe(pred, gt) if valid.any() else float("nan"),
        }
        if getattr(dataset, "name", "") == "MPII3D" and valid.any():
            metrics["pck3d"] = pck_3d(pred, gt, 150.0)
            metrics["auc"] = auc_3d(pred, gt)
        per_joint = np.nanmean(np.asarray(store["per_joint"])[valid], axis=0)
        results = {
            "num_samples": int(valid.sum()),
            "mpjpe_per_joint": dict(zip(H36M17.names, per_joint.tolist())),
        }
        if any(groups):
            results["mpjpe_per_group"] = per_group_mean(errors, groups, valid)
            results["pa_mpjpe_per_group"] = per_group_mean(pa, groups, valid)
        return metrics, results

    def report(self, metrics, results) -> str:
        if "mpjpe" not in metrics:
            return super().report(metrics, results)
        lines = [" | ".join(f"{k} {v:.2f}" for k, v in metrics.items()
                            if isinstance(v, float) and k != "time")]
        groups = results.get("mpjpe_per_group", {})
        if groups:
            pa = results.get("pa_mpjpe_per_group", {})
            width = max(len(g) for g in groups) + 2
            lines.append(f"{'group':<{width}}{'MPJPE':>9}{'PA-MPJPE':>10}")
            for g in sorted(groups):
                lines.append(f"{g:<{width}}{groups[g]:9.2f}{pa.get(g, float('nan')):10.2f}")
            lines.append(f"{'Average':<{width}}{np.mean(list(groups.values())):9.2f}"
                         f"{np.mean(list(pa.values())) if pa else float('nan'):10.2f}")
        return "\n".join(lines)
