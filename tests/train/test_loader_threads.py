"""Loader workers run OpenCV single-threaded, also after the main process used its thread pool."""
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    import argparse
    import cv2
    import numpy as np
    import torch
    from pose3d.train.runner import make_loader

    class Warps(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            img = np.full((512, 512, 3), i, np.uint8)
            out = cv2.warpAffine(img, np.eye(2, 3), (256, 256))
            return {"input": torch.tensor([float(out.mean()), float(cv2.getNumThreads())])}

    cv2.setNumThreads(4)
    for _ in range(20):  # start OpenCV's pool in the main process, as drawing or decoding does
        cv2.resize(np.zeros((1024, 1024, 3), np.uint8), (2048, 2048))
    loader = make_loader(Warps(), argparse.Namespace(random_seed=0), batch_size=2,
                         sampler=list(range(4)), workers=2)
    rows = torch.cat([b["input"] for b in loader])
    print(rows[:, 0].tolist(), sorted(set(rows[:, 1].tolist())))
""")


def test_workers_run_opencv_single_threaded_after_the_main_process_used_its_pool():
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(SRC)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("] ")[1].strip() == "[1.0]", out.stdout
    assert out.stdout.startswith("[0.0, 1.0, 2.0, 3.0]"), out.stdout
