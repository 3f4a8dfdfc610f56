"""Print size and cost of a pose3d network: parameters, multiply-accumulates, output shapes and
state-dict key counts.

    python scripts/model_info.py --arch msra_50 --input_h 256 --input_w 256
    python scripts/model_info.py --arch hg --num_stacks 2 --task human2d

MACs are counted by ``torch.utils.flop_counter.FlopCounterMode`` for one image (MACs = FLOPs / 2;
convolutions, transposed convolutions and linear layers, not BatchNorm/ReLU/pooling).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from pose3d.models import ARCH_CHOICES, ModelSpec, build_from_spec, count_parameters  # noqa: E402
from pose3d.skeleton import MPII16  # noqa: E402
from pose3d.utils.errors import UserError  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="msra_50",
                        help=f"network: {', '.join(ARCH_CHOICES)} or hg_<num_stacks>")
    parser.add_argument("--task", default="human3d", choices=("human3d", "human2d"),
                        help="human3d adds the depth head")
    parser.add_argument("--input_h", type=int, default=256)
    parser.add_argument("--input_w", type=int, default=256)
    parser.add_argument("--num_stacks", type=int, default=2, help="hourglass stacks")
    parser.add_argument("--num_modules", type=int, default=2, help="hourglass residual modules")
    parser.add_argument("--num_features", type=int, default=256, help="hourglass feature width")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    k = MPII16.num_joints
    heads = {"hm": k, "depth": k} if args.task == "human3d" else {"hm": k}
    spec = ModelSpec(args.arch, heads, (args.input_h, args.input_w), num_stacks=args.num_stacks,
                     num_modules=args.num_modules, num_features=args.num_features)
    try:
        model = build_from_spec(spec)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    model.eval()

    x = torch.zeros(1, 3, args.input_h, args.input_w)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        outputs = model(x)
    flops = counter.get_total_flops()

    state = model.state_dict()
    num_tracked = sum(1 for key in state if key.endswith("num_batches_tracked"))
    print(f"arch            {args.arch} ({type(model).__name__}), task {args.task}, "
          f"heads {heads}")
    print(f"input           1 x 3 x {args.input_h} x {args.input_w}")
    print(f"parameters      {count_parameters(model):,}")
    print(f"MACs            {flops / 2:,.0f} ({flops / 2e9:.2f} G)")
    print(f"FLOPs           {flops:,.0f} ({flops / 1e9:.2f} G)")
    print(f"state_dict      {len(state) - num_tracked} tensors without num_batches_tracked, "
          f"{len(state)} with")
    for stack, out in enumerate(outputs):
        shapes = ", ".join(f"{name} {tuple(t.shape)}" for name, t in out.items())
        print(f"output[{stack}]       {shapes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
