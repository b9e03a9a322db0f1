"""The torch DBN in the precisions trt_build gives its engines: the convolution trunk in fp16 (channels-last,
under autocast), and everything that reads the centre frame in fp32 (the residual add and clamp follow
from type promotion; the gate is wrapped), so a sharp centre frame never passes through fp16."""
from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn


class Fp32(nn.Module):
    """``inner`` in float32 whatever the autocast around it."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        with torch.autocast(inputs[0].device.type, enabled=False):
            return self.inner(*(x.float() for x in inputs))


def prepared(network: nn.Module, device: torch.device) -> nn.Module:
    """``network`` (fp32 weights) on ``device``, channels-last, with a DBN's gate kept in fp32."""
    if getattr(network, "gate", None) is not None:
        network.gate = Fp32(network.gate)
    return network.to(device, memory_format=torch.channels_last).eval()


def run(network: nn.Module, frames: list[torch.Tensor], fp16: bool) -> torch.Tensor:
    """Five C x H x W frames (float32, oldest first) -> the 3 x H x W float32 output, on the current stream."""
    return forward(network, torch.cat(frames)[None], fp16)[0]  # NCHW: the first convolution makes it channels-last


def forward(network: nn.Module, batch: torch.Tensor, fp16: bool) -> torch.Tensor:
    """N x 15 x H x W (float32) -> N x 3 x H x W float32, the trunk in fp16 with ``fp16``."""
    with torch.autocast(batch.device.type, dtype=torch.float16) if fp16 else nullcontext():
        return network(batch).float()

