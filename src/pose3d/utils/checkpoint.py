"""Checkpoints: atomic writing, safe loading, strict weight loading, random state.

File format (a superset of the original ``{'epoch', 'state_dict'[, 'optimizer']}``, so published
checkpoints load here and new ones load in the original code)::

    {'epoch': int, 'state_dict': {name: Tensor}, 'optimizer': dict | None, 'scaler': dict | None,
     'scheduler': dict | None, 'best': float | None, 'rng': dict | None, 'arch': str | None,
     'heads': {name: int} | None, 'opt': {name: plain value} | None, ...extra keys}

Only plain types are stored (tensors, dicts, lists, numbers, strings, None), so every file the
project writes loads with ``torch.load(weights_only=True)``, which is how :func:`load_checkpoint`
reads any file: it refuses to unpickle arbitrary objects. ``state_dict`` keys never carry the
``module.`` (DDP) or ``_orig_mod.`` (torch.compile) prefixes.

Writing goes to a temporary file in the same folder, is flushed and fsync'ed, then renamed over
the target with ``os.replace``; a crash at any point leaves the previous checkpoint intact.
"""
import contextlib
import logging
import os
import random
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pose3d.utils.device import accelerator_rng_state, set_accelerator_rng_state
from pose3d.utils.errors import CheckpointError

log = logging.getLogger(__name__)

RESERVED_KEYS = ("epoch", "state_dict", "optimizer", "scaler", "scheduler", "best", "rng", "arch",
                 "heads", "opt")
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# Head keys a 2D checkpoint lacks when it initialises a 3D model (stage 2 loads the stage-1 model).
_DEPTH_HEAD = re.compile(r"^depth[^.]*\.")
_MAX_LISTED = 5


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module inside DDP/DataParallel (``.module``) and torch.compile (``._orig_mod``).

    The one unwrap of the project: saving, weight loading and ONNX export look through wrappers
    with it.
    """
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


def strip_prefixes(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Remove leading ``module.`` / ``_orig_mod.`` from every key (in any order and number)."""
    out = {}
    for key, value in state_dict.items():
        key = str(key)
        changed = True
        while changed:
            changed = False
            for prefix in _WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key] = value
    return out


def _opt_dict(opt: Any) -> dict[str, Any] | None:
    if opt is None:
        return None
    from pose3d.opts import opt_to_dict  # plain-type conversion shared with opt.json

    return opt_to_dict(opt)


def save_checkpoint(path: str | os.PathLike, *, epoch: int, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, scaler: Any = None,
                    scheduler: Any = None, best: float | None = None,
                    rng: dict[str, Any] | None = None, extra: Mapping[str, Any] | None = None,
                    opt: Any = None) -> Path:
    """Write a checkpoint atomically.

    Args:
        path: target file (its folder is created).
        epoch: last finished epoch.
        model: the model, possibly wrapped by DDP or torch.compile.
        optimizer: saved with ``--resume`` in mind; None for ``model_best.pth`` as in the original.
        scaler: anything with ``state_dict()`` (``device.Scaler``, ``torch.amp.GradScaler``).
        scheduler: LR scheduler with ``state_dict()``.
        best: best validation metric so far.
        rng: random state from :func:`capture_rng_state`.
        extra: more top-level keys (must not reuse the reserved ones).
        opt: options (namespace or dict); stored as plain types, and its ``arch``/``heads`` let the
            demo rebuild the model from the file alone.

    Returns:
        ``path`` as a Path.

    Raises:
        CheckpointError: writing failed; the previous file at ``path`` is unchanged and no
            temporary file is left behind.
    """
    path = Path(path)
    opt_plain = _opt_dict(opt)
    ckpt: dict[str, Any] = {
        "epoch": int(epoch),
        "state_dict": strip_prefixes(unwrap_model(model).state_dict()),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "best": None if best is None else float(best),
        "rng": rng,
        "arch": opt_plain.get("arch") if opt_plain else None,
        "heads": opt_plain.get("heads") if opt_plain else None,
        "opt": opt_plain,
    }
    for key, value in (extra or {}).items():
        if key in RESERVED_KEYS:
            raise ValueError(f"save_checkpoint: extra key {key!r} is reserved")
        ckpt[key] = value

    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Same folder so os.replace is an atomic rename; opened like torch.save would (umask).
        tmp_name = str(path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        with open(tmp_name, "xb") as f:
            torch.save(ckpt, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
        _fsync_dir(path.parent)
    except Exception as err:
        raise CheckpointError(
            f"{path}: could not write the checkpoint ({type(err).__name__}: "
            f"{' '.join(str(err).split())}); the previous file is unchanged; check free disk "
            "space and write permission"
        ) from err
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return path


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort; not every platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``, on cpu) and normalise its layout.

    Accepted: files written by :func:`save_checkpoint`, the original ``{'epoch', 'state_dict'
    [, 'optimizer']}`` dict, a bare state_dict; keys prefixed by ``module.`` (DataParallel/DDP) or
    ``_orig_mod.`` (torch.compile) are stripped.

    Args:
        path: checkpoint file.

    Returns:
        A dict that always has ``state_dict`` (``{name: Tensor}``) and ``epoch`` (0 if absent),
        plus whatever else the file holds.

    Raises:
        CheckpointError: missing file; truncated or corrupt file; a file that would need to
            unpickle arbitrary objects; a file without weights.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise CheckpointError(
            f"{path}: checkpoint {what}; check --load_model (relative paths start from the "
            "current folder), or for --resume train first so that model_last.pth exists"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        text = str(err)
        m = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if m is not None:
            raise CheckpointError(
                f"{path}: refuses to unpickle arbitrary objects (the file holds {m.group(1)}; "
                "pose3d loads checkpoints with weights_only=True); re-save it, from code you "
                "trust, as {'epoch': ..., 'state_dict': model.state_dict()}"
            ) from None
        detail = " ".join(text.split())[:120] or type(err).__name__
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (truncated or corrupt: {detail}); "
            "download or copy it again, or use another model_*.pth"
        ) from None

    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        ckpt = dict(obj)
    elif _is_state_dict(obj):
        ckpt = {"state_dict": obj}
    else:
        kind = type(obj).__name__
        keys = ", ".join(map(str, list(obj)[:_MAX_LISTED])) if isinstance(obj, Mapping) else ""
        raise CheckpointError(
            f"{path}: holds no model weights (a {kind}{' with keys ' + keys if keys else ''}); "
            "expected {'state_dict': ...} or a state_dict"
        )
    ckpt["state_dict"] = strip_prefixes(ckpt["state_dict"])
    if ckpt.get("epoch") is None:
        ckpt["epoch"] = 0
    return ckpt


def _shape(t: Any) -> str:
    return "x".join(map(str, tuple(t.shape))) if isinstance(t, torch.Tensor) else "?"


def _bn_counter(key: str) -> bool:
    return key.endswith("num_batches_tracked")


def load_model_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor],
                       arch: str | None = None, *, source: str | os.PathLike = "checkpoint"
                       ) -> list[str]:
    """Load weights strictly, with a one-line error naming the first mismatched keys.

    Differences in BatchNorm ``num_batches_tracked`` buffers are ignored. One exception to
    strictness is kept from the original: a 2D checkpoint (no ``depth*`` head) may initialise a 3D
    model; the depth head then keeps its fresh initialisation.

    Args:
        model: target model (DDP / compiled wrappers are unwrapped).
        state_dict: weights, e.g. ``load_checkpoint(path)['state_dict']``.
        arch: ``--arch`` of the model, for the message.
        source: where the weights come from (a path), for the message.

    Returns:
        The model keys that were missing and allowed (the depth head), usually empty.

    Raises:
        CheckpointError: missing, unexpected or shape-mismatched keys (another architecture or
            other heads).
    """
    target = unwrap_model(model)
    own = target.state_dict()
    given = strip_prefixes(state_dict)
    missing = [k for k in own if k not in given and not _bn_counter(k)]
    unexpected = [k for k in given if k not in own and not _bn_counter(k)]
    mismatched = [k for k in own if k in given and not _bn_counter(k)
                  and tuple(own[k].shape) != tuple(given[k].shape)]
    allowed = [k for k in missing if _DEPTH_HEAD.match(k)]
    missing = [k for k in missing if k not in allowed]

    if missing or unexpected or mismatched:
        listed = ([f"{k} (shape {_shape(given[k])} in file, {_shape(own[k])} in model)"
                   for k in mismatched] + [f"{k} (missing)" for k in missing]
                  + [f"{k} (unexpected)" for k in unexpected])[:_MAX_LISTED]
        arch_text = f"--arch {arch}" if arch else "this model"
        raise CheckpointError(
            f"{source}: weights do not fit {arch_text}: {len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(mismatched)} with another shape; first: "
            f"{'; '.join(listed)}; load a checkpoint of the same --arch, --task and dataset "
            "joints, or change those flags to match it"
        )
    keep = {k: v for k, v in given.items() if k in own}
    # strict=False only because num_batches_tracked and the allowed depth keys may be absent;
    # every other difference was rejected above.
    target.load_state_dict(keep, strict=False)
    if allowed:
        log.info("%s has no depth head (a 2D checkpoint): %d depth keys keep their "
                 "initialisation", source, len(allowed))
    return allowed


# ----------------------------------------------------------------------------- random state

def capture_rng_state() -> dict[str, Any]:
    """Random state of python, numpy (global RNG), torch and initialised accelerators.

    Returns:
        A dict of tensors, lists, ints and floats only (loadable with ``weights_only=True``).
    """
    version, py_state, gauss = random.getstate()
    key, np_state, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": {"version": int(version), "state": [int(v) for v in py_state],
                   "gauss_next": gauss},
        "numpy": {"key": str(key), "state": torch.from_numpy(np_state.astype(np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
        "accelerators": accelerator_rng_state(),
    }


def restore_rng_state(state: Mapping[str, Any] | None) -> None:
    """Restore :func:`capture_rng_state`; absent parts are left as they are."""
    if not state:
        return
    py = state.get("python")
    if py:
        random.setstate((py["version"], tuple(py["state"]), py["gauss_next"]))
    npst = state.get("numpy")
    if npst:
        arr = np.asarray(npst["state"].numpy() if isinstance(npst["state"], torch.Tensor)
                         else npst["state"]).astype(np.uint32)
        np.random.set_state((npst["key"], arr, int(npst["pos"]), int(npst["has_gauss"]),
                             float(npst["cached_gaussian"])))
    if state.get("torch") is not None:
        torch.set_rng_state(state["torch"].to(torch.uint8).cpu())
    if state.get("accelerators"):
        set_accelerator_rng_state(state["accelerators"])
