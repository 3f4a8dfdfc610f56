"""LSP + LSP-Extended (docs/datasets.md): the fork's ``lsp_extended`` dataset.

Layout: ``lsp/joints.mat`` (``joints`` float64 (3, 14, N): x, y, flag with 1 = occluded) with
``lsp/images/im%04d.jpg`` and ``lsp_extended/joints.mat`` (``joints`` (14, 3, M): flag 1 =
visible and annotated, 0 = not annotated, placeholder coordinates) with
``lsp_extended/images/im%05d.jpg``; image ``i`` (0-based) is file number ``i + 1``. Coordinates
are 1-based (MATLAB).

Also home of the small functions the other name-mapped loaders share: reading one .mat variable,
mapping a joint table to MPII16 by name and the joint-extent crop box.
"""
import logging
from pathlib import Path

import numpy as np

from pose3d.skeleton import LSP14, MPII16, MPII_MIDPOINTS, name_map
from pose3d.utils.errors import DataFormatError
from pose3d.utils.io import load_mat

from .base import PoseDataset

log = logging.getLogger(__name__)


def require_dir(path: Path, what: str) -> None:
    """Raise DataFormatError naming the dataset folder when it does not exist."""
    if not path.is_dir():
        raise DataFormatError(path, f"{what} folder is missing",
                              "point --data_dir at the data root or write the synthetic tree")


def load_mat_variable(path: Path, var: str) -> np.ndarray:
    """One variable of a MATLAB 5 file; a missing or unreadable file or variable raises
    DataFormatError."""
    data = load_mat(path)  # any MATLAB version; missing or damaged files raise DataFormatError
    if var not in data:
        raise DataFormatError(path, f"no variable '{var}' in the file",
                              "use the original annotation file of this dataset")
    return data[var]


def to_mpii16(src_names: tuple[str, ...], joints: np.ndarray,
              vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map joints of another table to MPII16 by name.

    Joints with the same name are copied; pelvis and thorax, when absent, are the midpoints of
    the hips / shoulders with visibility the product of both (the fork's convention); anything
    else is missing (coordinates 0, visibility 0).

    Args:
        src_names: joint names of the source table (K names).
        joints: (N, K, 2) float px, missing joints finite (e.g. 0).
        vis: (N, K) float 0/1.

    Returns:
        (N, 16, 2) joints and (N, 16) visibility.
    """
    n = joints.shape[0]
    out = np.zeros((n, MPII16.num_joints, 2))
    out_vis = np.zeros((n, MPII16.num_joints))
    for j, i in enumerate(name_map(src_names)):
        if i >= 0:
            out[:, j], out_vis[:, j] = joints[:, i], vis[:, i]
    for name, a, b in MPII_MIDPOINTS:
        if name not in src_names and a in src_names and b in src_names:
            j, ia, ib = MPII16.index(name), src_names.index(a), src_names.index(b)
            out[:, j] = (joints[:, ia] + joints[:, ib]) / 2
            out_vis[:, j] = vis[:, ia] * vis[:, ib]
    out[out_vis == 0] = 0.0
    return out, out_vis


def joint_box(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Square crop box around a person's annotated points.

    ``center`` is the midpoint of the points' bounding box and the side is
    ``1.25 * (E + 2 m)`` with ``E = max(width, height)`` of that box and a margin
    ``m = 0.1 E + 4`` px (i.e. ``1.5 E + 10``). Joints span about 0.9 of a person's height, so
    this is close to MPII's ``1.25 * 200 * scale`` (1.25 x person height) and, unlike the fork's
    UniPose-derived ``(E + 4) / 368 * 250`` (~0.68 E), keeps hands and feet inside the crop.

    Args:
        points: (P, 2) float px, P >= 1, all finite.

    Returns:
        center (2,) px and side (float, px).
    """
    lo, hi = points.min(axis=0), points.max(axis=0)
    extent = float((hi - lo).max())
    return (lo + hi) / 2, 1.25 * (extent + 2 * (0.1 * extent + 4.0))


def _mat_joints(path: Path, shape_first: tuple[int, int],
                order: tuple[int, int, int]) -> np.ndarray:
    """LSP ``joints`` as (N, 14, 3) from the file's own axis order, with a shape check."""
    arr = load_mat_variable(path, "joints")
    if arr.ndim != 3 or arr.shape[:2] != shape_first or not np.issubdtype(arr.dtype, np.number):
        raise DataFormatError(path, f"variable 'joints' has shape {arr.shape} ({arr.dtype}), "
                              f"expected ({shape_first[0]}, {shape_first[1]}, N) numbers",
                              "use the original joints.mat of this dataset")
    return np.asarray(arr, dtype=np.float64).transpose(order)


class LSPExtended(PoseDataset):
    """LSP (2000) + LSP-Extended (10000), mapped to MPII16 by name.

    Split (counts from the array shapes), with both folders: train = every LSPET image + the
    first half of LSP, val = the second half of LSP (the real files give 10000 + 1000 / 1000, as
    the fork). Either folder alone is enough: with LSP only, train / val are its two halves;
    with LSPET only, the last tenth of its images (at least one) is held out for validation and
    never trained on. The parts found are logged and kept in ``note``.
    Joints are converted to 0-based pixels (``- 1``) so they sit on the image pixels.
    Visibility: LSP flag inverted (occluded joints count as unlabelled, as in LSPET, whose
    occluded joints carry no position); LSPET flag 1; non-finite coordinates are missing.
    Box: :func:`joint_box` over the annotated joints (LSP: all 14, occluded ones included;
    LSPET: flag 1) instead of the fork's over-tight UniPose box; the image size is not needed
    (the base clips the side to the image), so no image is opened here.
    """

    name = "lsp_extended"
    #: Fraction of LSPET held out for validation when the LSP folder is absent.
    lspet_val_fraction = 0.1

    def _parts(self) -> list[tuple[Path, str, np.ndarray, int, bool, str]]:
        """(image folder, file pattern, joints (n, 14, 3), index of the first image, is LSP,
        description) of every part of this split, from the folders that exist."""
        lsp_dir, et_dir = self.data_dir / "lsp", self.data_dir / "lsp_extended"
        has_lsp, has_et = lsp_dir.is_dir(), et_dir.is_dir()
        if not (has_lsp or has_et):
            raise DataFormatError(
                self.data_dir, "neither lsp/ (lsp_dataset.zip) nor lsp_extended/ "
                "(lspet_dataset.zip) is there", "extract at least one of them under --data_dir, "
                "or point --data_dir at the data root")
        train = self.split == "train"
        parts = []
        if has_et:
            et = _mat_joints(et_dir / "joints.mat", (14, 3), (2, 0, 1))
            if has_lsp and train:
                parts.append((et_dir / "images", "im%05d.jpg", et, 0, False,
                              f"LSP-Extended images 1-{len(et)}"))
            elif not has_lsp:
                held = min(len(et), max(1, int(round(len(et) * self.lspet_val_fraction))))
                first = len(et) - held if not train else 0
                chunk = et[first:] if not train else et[:len(et) - held]
                parts.append((et_dir / "images", "im%05d.jpg", chunk, first, False,
                              f"LSP-Extended images {first + 1}-{first + len(chunk)}"))
        if has_lsp:
            lsp = _mat_joints(lsp_dir / "joints.mat", (3, 14), (2, 1, 0))
            half = len(lsp) // 2
            first = 0 if train else half
            chunk = lsp[:half] if train else lsp[half:]
            parts.append((lsp_dir / "images", "im%04d.jpg", chunk, first, True,
                          f"LSP images {first + 1}-{first + len(chunk)}"))
        found = ", ".join(f"{d.name}/ {'found' if ok else 'missing'}"
                          for d, ok in ((lsp_dir, has_lsp), (et_dir, has_et)))
        self.note = (f"{self.name} {self.split}: " + " + ".join(p[-1] for p in parts)
                     + f" ({found})")
        log.info(self.note)
        return parts

    def _load_records(self) -> list[dict]:
        records, skipped = [], 0
        for images, pattern, arr, first, is_lsp, _ in self._parts():
            xy, flag = arr[..., :2] - 1.0, arr[..., 2]
            finite = np.isfinite(xy).all(axis=2)
            # LSP flags occluded joints, which are still annotated (they shape the box);
            # LSPET flags visible joints, the only annotated ones.
            visible = (flag == 0 if is_lsp else flag == 1) & finite
            annotated = finite if is_lsp else visible
            joints, vis = to_mpii16(LSP14, np.where(finite[..., None], xy, 0.0),
                                    visible.astype(np.float64))
            for n in range(len(arr)):
                if not annotated[n].any():
                    skipped += 1
                    continue
                center, side = joint_box(xy[n][annotated[n]])
                records.append({"image": str(images / (pattern % (first + n + 1))),
                                "joints": joints[n], "vis": vis[n], "center": center,
                                "scale": side})
        if skipped:
            log.info("lsp_extended %s: skipped %d images without annotated joints",
                     self.split, skipped)
        return records
