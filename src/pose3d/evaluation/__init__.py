"""Evaluation: pure metrics (``metrics``), the H36M-style 3D protocol (``h36m``) and MPII PCKh
(``pckh``), and the files and text a test run writes (``results``)."""
from .h36m import (GroupedMeter, H36MResult, h36m_protocol, mpii16_to_h36m17, per_group_mean,
                   rescale_to_bone_length, skeleton_length)
from .metrics import (METRICS_HIGHER_IS_BETTER, auc_3d, compute_similarity_transform,
                      heatmap_accuracy, is_better, joint_errors, mpjpe, n_mpjpe, pa_mpjpe, pck,
                      pck_3d, procrustes_align, scale_align, torso_size)
from .pckh import check_person_count, format_pckh_table, load_gt_valid, pckh
from .results import NOT_AVAILABLE, format_metric, json_ready, write_results

__all__ = [
    "METRICS_HIGHER_IS_BETTER", "is_better", "heatmap_accuracy", "joint_errors", "mpjpe",
    "pa_mpjpe", "n_mpjpe", "procrustes_align", "scale_align", "pck_3d", "auc_3d", "pck",
    "torso_size", "compute_similarity_transform", "mpii16_to_h36m17", "skeleton_length",
    "rescale_to_bone_length", "h36m_protocol", "H36MResult", "per_group_mean", "GroupedMeter",
    "load_gt_valid", "pckh", "format_pckh_table", "check_person_count", "NOT_AVAILABLE",
    "format_metric", "json_ready", "write_results",
]
