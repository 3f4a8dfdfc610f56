"""``--resume`` bookkeeping: where the interrupted run stopped, and its restored training state."""
from __future__ import annotations

from dataclasses import dataclass

from pose3d.utils.checkpoint import restore_rng_state
from pose3d.utils.errors import CheckpointError

_RESTORE_ERRORS = (ValueError, KeyError, TypeError, RuntimeError, IndexError)


@dataclass(frozen=True)
class ResumeState:
    """Where a run starts.

    Attributes:
        start_epoch: first epoch to run.
        skip_steps: steps of ``start_epoch`` already done before an interruption.
        best: best value of ``--metric`` so far (None: none yet).
        val_pending: epoch whose validation was interrupted (None: none).
    """

    start_epoch: int = 1
    skip_steps: int = 0
    best: float | None = None
    val_pending: int | None = None

    @classmethod
    def from_checkpoint(cls, ckpt: dict, path: str) -> ResumeState:
        """Read the position saved in ``ckpt`` (read from ``path``).

        Raises:
            CheckpointError: malformed or invalid values.
        """
        try:
            best = None if ckpt.get("best") is None else float(ckpt["best"])
            start_epoch = int(ckpt.get("next_epoch") or int(ckpt.get("epoch") or 0) + 1)
            skip_steps = int(ckpt.get("next_step") or 0)
            pending = None if ckpt.get("val_pending") is None else int(ckpt["val_pending"])
        except _RESTORE_ERRORS as err:
            raise _cannot_restore(path, err) from None
        if start_epoch < 1 or skip_steps < 0:
            raise CheckpointError(f"{path}: next_epoch {start_epoch} / next_step {skip_steps} are "
                                  "invalid; use another checkpoint")
        return cls(start_epoch, skip_steps, best, pending)


def _cannot_restore(path: str, err: Exception) -> CheckpointError:
    detail = " ".join(str(err).split())[:160]
    return CheckpointError(f"{path}: its training state cannot be restored "
                           f"({type(err).__name__}: {detail}); resume with the flags of the run "
                           f"that wrote it, or start a new run with --load_model {path}")


def restore_training_state(ckpt: dict, path: str, optim_type: str, optimizer, scheduler,
                           scaler) -> ResumeState:
    """Load optimizer, scheduler, scaler and random state for ``--resume``.

    Call after the model is on its device: the optimizer puts its state on its parameters'
    device.

    Raises:
        CheckpointError: the state does not fit the current flags or is malformed.
    """
    saved_optim = str((ckpt.get("opt") or {}).get("optim_type") or "").lower()
    if ckpt.get("optimizer") and saved_optim and saved_optim != optim_type.lower():
        raise CheckpointError(f"{path}: written with --optim_type {saved_optim}, resumed with "
                              f"--optim_type {optim_type}; resume with --optim_type "
                              f"{saved_optim}, or start a new run with --load_model {path}")
    try:
        for key, target in (("optimizer", optimizer), ("scheduler", scheduler),
                            ("scaler", scaler)):
            if ckpt.get(key):
                target.load_state_dict(ckpt[key])
        if ckpt.get("rng"):
            restore_rng_state(ckpt["rng"])
    except _RESTORE_ERRORS as err:
        raise _cannot_restore(path, err) from None
    return ResumeState.from_checkpoint(ckpt, path)
