"""Export a pose3d checkpoint to ONNX (dynamic batch; input ``input``, outputs ``hm``, ``depth``).

    python scripts/export_onnx.py --load_model models/fusion_3d_var.pth
    python scripts/export_onnx.py --load_model exp/x/model_last.pth --arch msra_18 \\
        --input_h 128 --input_w 128 --out exp/x/model.onnx --check

Arch and heads come from the checkpoint's ``arch``/``heads``/``opt`` keys when it has them
(``--arch`` and the head weights otherwise); the input size from ``--input_h/--input_w`` when
given, else from the checkpoint's options, else 256 x 256. ``--check`` runs ONNX Runtime on a
random batch and prints the largest difference to PyTorch.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from pose3d.onnx_backend import (DEFAULT_OPSET, OnnxModel, export_onnx,  # noqa: E402
                                 load_checkpoint_model)
from pose3d.utils.errors import UserError  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load_model", required=True, help="checkpoint (.pth) to export")
    parser.add_argument("--arch", default=None,
                        help="network when the checkpoint does not name it (default msra_50)")
    parser.add_argument("--input_h", type=int, default=None, help="input height (px)")
    parser.add_argument("--input_w", type=int, default=None, help="input width (px)")
    parser.add_argument("--out", default=None,
                        help="output file (default: the checkpoint's name with .onnx)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset version")
    parser.add_argument("--check", action="store_true",
                        help="compare ONNX Runtime with PyTorch on a random batch of 2")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(min(4, torch.get_num_threads()))
    if (args.input_h is None) != (args.input_w is None):
        print("error: give both --input_h and --input_w, or neither", file=sys.stderr)
        return 1
    input_hw = None if args.input_h is None else (args.input_h, args.input_w)
    out = Path(args.out) if args.out else Path(args.load_model).with_suffix(".onnx")
    try:
        model, spec = load_checkpoint_model(args.load_model, args.arch, None, input_hw)
        export_onnx(model, out, spec.input_hw, opset=args.opset)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    height, width = spec.input_hw
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB): --arch {spec.arch}, heads "
          f"{spec.heads}, input 'input' (batch, 3, {height}, {width}), dynamic batch")
    if args.check:
        x = torch.randn(2, 3, height, width)
        with torch.no_grad():
            ref = {k: v for o in model(x) for k, v in o.items()}
        got = OnnxModel(out)(x)[0]
        for name, value in got.items():
            err = float((value - ref[name]).abs().max() / ref[name].abs().max().clamp(min=1e-12))
            print(f"check {name}: shape {tuple(value.shape)}, max |onnx - torch| / max |torch| "
                  f"= {err:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
