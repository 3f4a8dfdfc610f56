"""Running averages for losses, metrics and timings (the one AverageMeter of the project)."""
import torch
import torch.distributed as dist

from pose3d.utils.distributed import all_reduce_sum, is_distributed


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

    def __repr__(self) -> str:
        return f"AverageMeter(avg={self.avg:.6g}, count={self.count})"


def all_reduce_meters(meters: dict[str, AverageMeter], device: torch.device) -> None:
    """Combine the meters of every DDP process (sums and counts), in place; no-op alone.

    A name can be missing on some rank (``mpjpe`` when its shard held no 3D sample), so the names
    are gathered first; one all-reduce then carries every sum and count. Averages are weighted by
    sample / joint counts, as in a single process.

    Args:
        meters: ``{name: meter}`` of this process; names of other processes are added.
        device: a device the process group's backend can reduce on (the model's device).
    """
    if not is_distributed():
        return
    gathered: list = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, list(meters))
    names = list(dict.fromkeys(n for part in gathered for n in part))
    if not names:
        return
    dtype = torch.float32 if device.type == "npu" else torch.float64  # hccl: no float64
    sums = torch.tensor([[meters[n].sum, meters[n].count] if n in meters else [0.0, 0.0]
                         for n in names], dtype=dtype, device=device)
    for n, (total, count) in zip(names, all_reduce_sum(sums).tolist()):
        m = meters.setdefault(n, AverageMeter())
        m.sum, m.count = total, int(round(count))
        m.avg = total / m.count if m.count else 0.0
