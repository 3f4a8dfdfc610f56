"""Joint orders, skeleton edges, flip pairs, bone groups and index maps, defined once.

Every table is written as joint *names*; index lists are derived from the names so they can
never drift apart. Orders follow the original code (docs/datasets.md, Joint orders):

* ``MPII16``: the network's 16 output joints (MPII order).
* ``H36M17``: the 17-joint Human3.6M order of the ECCV'18 challenge cache (integral-human-pose
  naming, joints 1-3 are the RIGHT leg), used for 3D evaluation.
* ``SYNTH18``: the synthetic engine's body, the 17 H36M joints plus the head top.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Skeleton:
    """Joint names plus the name-level tables; index views are derived properties."""

    names: tuple[str, ...]
    edge_names: tuple[tuple[str, str], ...]
    flip_name_pairs: tuple[tuple[str, str], ...]

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    @property
    def edges(self) -> list[tuple[int, int]]:
        return [(self.index(a), self.index(b)) for a, b in self.edge_names]

    @property
    def flip_pairs(self) -> list[tuple[int, int]]:
        return [(self.index(a), self.index(b)) for a, b in self.flip_name_pairs]

    @property
    def flip_index(self) -> list[int]:
        """Permutation that swaps left and right: ``joints_flipped = joints[flip_index]``."""
        perm = list(range(self.num_joints))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def is_left(self, j: int) -> bool:
        return self.names[j].startswith("l_")


# --- MPII 16 (network output order) -------------------------------------------------------------
MPII16 = Skeleton(
    names=("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
           "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow",
           "l_wrist"),
    # The original's 2D drawing edges, in its order.
    edge_names=(("r_ankle", "r_knee"), ("r_knee", "r_hip"), ("r_hip", "pelvis"),
                ("pelvis", "l_hip"), ("l_hip", "l_knee"), ("l_knee", "l_ankle"),
                ("r_wrist", "r_elbow"), ("r_elbow", "r_shoulder"), ("r_shoulder", "upper_neck"),
                ("upper_neck", "l_shoulder"), ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"),
                ("pelvis", "upper_neck"), ("upper_neck", "head_top")),
    flip_name_pairs=(("r_ankle", "l_ankle"), ("r_knee", "l_knee"), ("r_hip", "l_hip"),
                     ("r_wrist", "l_wrist"), ("r_elbow", "l_elbow"), ("r_shoulder", "l_shoulder")),
)
# Short strings of MPII's gt_valid.mat `dataset_joints` cell, in MPII16 order.
MPII_MAT_NAMES = ("rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor", "neck", "head",
                  "rwri", "relb", "rsho", "lsho", "lelb", "lwri")
# Joints counted by the original heatmap accuracy ("acc").
ACC_IDXS = [MPII16.index(n) for n in ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle",
                                       "r_wrist", "r_elbow", "l_elbow", "l_wrist")]
ROOT_MPII = MPII16.index("pelvis")

# --- H36M 17 (3D evaluation order) --------------------------------------------------------------
H36M17 = Skeleton(
    names=("root", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
           "neck_nose", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow",
           "r_wrist"),
    # The original's 15 `edges_3d` (joint 9 unused); their length sum is the 4000 mm rescale.
    edge_names=(("r_ankle", "r_knee"), ("r_knee", "r_hip"), ("r_hip", "root"), ("root", "l_hip"),
                ("l_hip", "l_knee"), ("l_knee", "l_ankle"), ("root", "spine"),
                ("spine", "thorax"), ("thorax", "head"), ("r_wrist", "r_elbow"),
                ("r_elbow", "r_shoulder"), ("r_shoulder", "thorax"), ("thorax", "l_shoulder"),
                ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist")),
    flip_name_pairs=(("r_ankle", "l_ankle"), ("r_knee", "l_knee"), ("r_hip", "l_hip"),
                     ("r_wrist", "l_wrist"), ("r_elbow", "l_elbow"), ("r_shoulder", "l_shoulder")),
)
ROOT_H36M = 0

# MPII j <- H36M index (thorax <- H36M spine, upper neck <- H36M 8, head top <- H36M head),
# the original's `h36m_to_mpii` kept exactly for checkpoint parity.
H36M_TO_MPII = [3, 2, 1, 4, 5, 6, 0, 7, 8, 10, 16, 15, 14, 11, 12, 13]
# H36M k <- MPII index (H36M 9 and 10 both <- MPII head top), the original's `mpii_to_h36m`.
MPII_TO_H36M = [6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 9, 13, 14, 15, 12, 11, 10]
# Total length of the 15 H36M bones after the original's skeleton rescale (mm).
MEAN_BONE_LENGTH_MM = 4000.0

# --- Synthetic body: 17 H36M joints + head top --------------------------------------------------
SYNTH18 = Skeleton(
    names=H36M17.names + ("head_top",),
    edge_names=H36M17.edge_names + (("head", "head_top"), ("thorax", "neck_nose")),
    flip_name_pairs=H36M17.flip_name_pairs,
)

# --- Human3.6M's own 32 joints (the ``Pose`` rows of the release's D2/D3 files) -----------------
# The 17 joints of H36M17 keep their names (head = the point above the head, "Site" in the
# release's skeleton); the other 15 are end sites, toes, collars, thumbs and hands.
H36M32 = ("root", "r_hip", "r_knee", "r_ankle", "r_toe", "r_toe_end", "l_hip", "l_knee",
          "l_ankle", "l_toe", "l_toe_end", "spine_base", "spine", "thorax", "neck_nose", "head",
          "l_collar", "l_shoulder", "l_elbow", "l_wrist", "l_thumb", "l_thumb_end", "l_hand",
          "l_hand_end", "r_collar", "r_shoulder", "r_elbow", "r_wrist", "r_thumb", "r_thumb_end",
          "r_hand", "r_hand_end")

# --- Bone groups of the weakly-supervised geometric loss ----------------------------------------
# (group name, ((joint a, joint b, weight), ...)) in MPII16 names; the weights equalise the mean
# bone-length ratios inside a group (shank and forearm are slightly longer).
BONE_GROUPS_MPII = (
    ("legs", (("r_ankle", "r_knee", 1.0085885098415446), ("r_knee", "r_hip", 1.0),
              ("l_hip", "l_knee", 1.0), ("l_knee", "l_ankle", 1.0085885098415446))),
    ("arms", (("r_wrist", "r_elbow", 1.1375361376887123), ("r_elbow", "r_shoulder", 1.0),
              ("l_shoulder", "l_elbow", 1.0), ("l_elbow", "l_wrist", 1.1375361376887123))),
    ("hips", (("r_hip", "pelvis", 1.0), ("l_hip", "pelvis", 1.0))),
    ("shoulders", (("r_shoulder", "upper_neck", 1.0), ("l_shoulder", "upper_neck", 1.0))),
)


def bone_groups_indices() -> list[list[tuple[int, int, float]]]:
    """Bone groups as MPII16 index triples ``(a, b, weight)``."""
    return [[(MPII16.index(a), MPII16.index(b), w) for a, b, w in bones]
            for _, bones in BONE_GROUPS_MPII]


# --- Other datasets' joint orders, mapped to MPII16 by name --------------------------------------
LSP14 = ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow",
         "r_shoulder", "l_shoulder", "l_elbow", "l_wrist", "upper_neck", "head_top")

# FLIC's 29 `coords` slots (MODEC lookupPart.m order, 0-based here).
FLIC29 = ("l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist", "l_hip",
          "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle", "l_eye", "r_eye", "l_ear", "r_ear",
          "nose", "m_shoulder", "m_hip", "m_ear", "m_torso", "m_luarm", "m_ruarm", "m_llarm",
          "m_rlarm", "m_luleg", "m_ruleg", "m_llleg", "m_rlleg")
FLIC_LABELLED = ("l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist", "l_hip",
                 "r_hip", "l_eye", "r_eye", "nose")

# Occlusion-Person (UnrealCV) 15 joints.
UNREALCV15 = ("pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "belly",
              "neck", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist")

# COCO 17 keypoints.
COCO17 = Skeleton(
    names=("nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow",
           "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle",
           "r_ankle"),
    edge_names=(("l_ankle", "l_knee"), ("l_knee", "l_hip"), ("r_ankle", "r_knee"),
                ("r_knee", "r_hip"), ("l_hip", "r_hip"), ("l_shoulder", "l_hip"),
                ("r_shoulder", "r_hip"), ("l_shoulder", "r_shoulder"), ("l_shoulder", "l_elbow"),
                ("r_shoulder", "r_elbow"), ("l_elbow", "l_wrist"), ("r_elbow", "r_wrist"),
                ("l_eye", "r_eye"), ("nose", "l_eye"), ("nose", "r_eye"), ("l_eye", "l_ear"),
                ("r_eye", "r_ear"), ("l_ear", "l_shoulder"), ("r_ear", "r_shoulder")),
    flip_name_pairs=(("l_eye", "r_eye"), ("l_ear", "r_ear"), ("l_shoulder", "r_shoulder"),
                     ("l_elbow", "r_elbow"), ("l_wrist", "r_wrist"), ("l_hip", "r_hip"),
                     ("l_knee", "r_knee"), ("l_ankle", "r_ankle")),
)

# --- Name-level conversion to MPII16 ------------------------------------------------------------
# MPII16 joints other formats lack, built as the midpoint of two joints they do have (the fork's
# LSP and Occlusion-Person conversions): (MPII name, joint a, joint b).
MPII_MIDPOINTS = (("pelvis", "r_hip", "l_hip"), ("thorax", "r_shoulder", "l_shoulder"))


# Other tables' names for SYNTH18 joints: MPII pelvis is the root, MPII upper neck the H36M
# "neck_nose" point (between thorax and head); every other shared name means the same joint.
SYNTH18_ALIASES = {"pelvis": "root", "upper_neck": "neck_nose"}


def name_map(src: tuple[str, ...], dst: tuple[str, ...] = MPII16.names) -> list[int]:
    """For each ``dst`` joint the index of the ``src`` joint of the same name, -1 if none."""
    return [src.index(n) if n in src else -1 for n in dst]

# --- 3DPW release joint orders --------------------------------------------------------------------
# The 24 SMPL joints (3DPW `jointPositions`, SMPL's kinematic tree order).
SMPL24 = ("pelvis", "l_hip", "r_hip", "spine1", "l_knee", "r_knee", "spine2", "l_ankle",
          "r_ankle", "spine3", "l_foot", "r_foot", "neck", "l_collar", "r_collar", "head",
          "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_hand",
          "r_hand")
# OpenPose COCO-18 (3DPW `poses2d`); its "neck" is the shoulder midpoint.
OPENPOSE18 = ("nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow",
              "l_wrist", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye",
              "l_eye", "r_ear", "l_ear")
# Output order of SPIN/VIBE's `J_regressor_h36m.npy` in H36M17 names: joints 1-3 are the LEFT
# leg here, unlike the challenge cache's order.
H36M_REGRESSOR17 = ("root", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle", "spine",
                    "thorax", "neck_nose", "head", "l_shoulder", "l_elbow", "l_wrist",
                    "r_shoulder", "r_elbow", "r_wrist")
