"""Running averages for losses, metrics and timings (the one AverageMeter of the project)."""
import torch

from pose3d.utils.device import all_reduce_sum, is_distributed


class AverageMeter:
    """Weighted running average: ``update(value, n)`` counts ``value`` ``n`` times.

    Attributes:
        val: last value.
        sum: weighted sum.
        count: total weight.
        avg: ``sum / count`` (0 before the first update).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every value."""
        self.val = 0.0
        self.sum = 0.0
        self.count = 0
        self.avg = 0.0

    def update(self, val: float, n: int = 1) -> None:
        """Add ``val`` with weight ``n`` (e.g. a batch mean with n = batch size)."""
        self.val = float(val)
        self.sum += float(val) * n
        self.count += n
        self.avg = self.sum / self.count if self.count else 0.0

    def all_reduce(self, device: torch.device) -> None:
        """Combine sums and counts of every DDP process (no-op in a single process).

        Args:
            device: a device the process group's backend can reduce on (the model's device).
        """
        if not is_distributed():
            return
        # hccl lacks float64 reductions
        dtype = torch.float32 if device.type == "npu" else torch.float64
        t = all_reduce_sum(torch.tensor([self.sum, float(self.count)], dtype=dtype,
                                        device=device))
        self.sum, self.count = float(t[0]), int(round(float(t[1])))
        self.avg = self.sum / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return f"AverageMeter(avg={self.avg:.6g}, count={self.count})"
