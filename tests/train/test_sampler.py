"""EpochSampler: per-epoch permutations, shards, and exact mid-epoch resume."""
from pose3d.train.sampler import EpochSampler


def test_same_epoch_same_order_and_epochs_differ():
    a, b = EpochSampler(50, seed=3), EpochSampler(50, seed=3)
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) == list(b)
    b.set_epoch(2)
    assert [i for i, _ in a] != [i for i, _ in b]
    assert sorted(i for i, _ in a) == list(range(50))


def test_shards_cover_everything_and_skip_resumes():
    shards = [EpochSampler(11, seed=0, num_replicas=2, rank=r) for r in range(2)]
    for s in shards:
        s.set_epoch(4)
    seen = [i for s in shards for i, _ in s]
    assert set(seen) == set(range(11)) and len(seen) == 12
    full = list(shards[0])
    shards[0].set_epoch(4, skip=3)
    assert list(shards[0]) == full[3:]
    assert len(shards[0]) == len(full) - 3
