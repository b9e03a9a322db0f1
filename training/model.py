"""The DBN as training sees it: ``vs_dvd.network`` re-exported, plus a readable layer table.

``python -m training.model --width 64`` prints every layer with its shape and parameter count.
"""
from __future__ import annotations

import argparse

from torch import nn

from vs_dvd.basics import FRAMES, MULTIPLE
from vs_dvd.network import DBN, Block, DBNConfig, fold_batchnorm, layer_names

__all__ = ["DBN", "DBNConfig", "Block", "fold_batchnorm", "layer_names", "layer_table", "parameter_count"]


def layer_table(model: DBN) -> list[dict]:
    """One row per layer in forward order (the gate's last): name, kind, channels, kernel, stride, parameters."""
    rows = []
    for name in layer_names(model.config.gate):
        block: Block = model.get_submodule(name)
        conv = block.conv
        up = isinstance(conv, nn.ConvTranspose2d)
        rows.append({"name": name, "kind": "up-conv" if up else "conv",
                     "in": conv.in_channels, "out": conv.out_channels,
                     "kernel": conv.kernel_size[0], "stride": conv.stride[0], "relu": block.relu,
                     "params": sum(p.numel() for p in block.parameters())})
    return rows


def parameter_count(model: DBN) -> int:
    """Trainable parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters())


def format_table(model: DBN) -> str:
    lines = [f"{'layer':6} {'kind':7} {'in':>5} {'out':>5} {'k':>2} {'s':>2} {'relu':4} {'params':>10}"]
    for r in layer_table(model):
        lines.append(f"{r['name']:6} {r['kind']:7} {r['in']:5} {r['out']:5} {r['kernel']:2} {r['stride']:2} "
                     f"{'yes' if r['relu'] else 'no':4} {r['params']:10,}")
    lines.append(f"total {parameter_count(model):,} parameters ({model.config.head} head, width "
                 f"{model.config.width}; input N x {3 * FRAMES} x H x W, H and W multiples of {MULTIPLE})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.model", description="Print the DBN's layer table.")
    parser.add_argument("--width", type=int, default=64, help="channels of the first stage (paper: 64)")
    args = parser.parse_args(argv)
    print(format_table(DBN(DBNConfig(args.width))))


if __name__ == "__main__":
    main()
