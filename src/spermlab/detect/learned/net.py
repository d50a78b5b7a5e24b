"""SpermNet's architecture (PyTorch; needed only for training: ``pip install 'spermlab[train]'``).

A two-level encoder-decoder with a CenterNet head (Zhou et al. 2019, "Objects as points")
at 1/4 resolution. The sizes are set by the compute budget, not by a score: at 640x480 the
default (width 16, depth 4) costs about 0.3 GMAC per frame, which onnxruntime runs in under
10 ms on two CPU cores, so that the whole analysis stays above 50 frames/s. The receptive
field (over 100 px) covers a head and the first part of its flagellum at VISEM's and SVIA's
magnification, which is the evidence a person uses to tell a head from a speck.

Output: one tensor ``(N, 5, H/4, W/4)``: sigmoid heat, sigmoid ``dx``, ``dy`` (position in
the cell) and raw ``log w``, ``log h`` (box side ``16 px · exp(·)``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_net", "require_torch"]



def require_torch() -> Any:
    """Import torch or raise an ImportError that names the pip command."""
    from spermlab._optional import require

    return require("torch", "train", "training a detector")


DILATIONS = (1, 2, 4, 1, 2, 4)


def build_net(width: int = 16, depth: int = 4) -> Any:
    """A fresh SpermNet ``torch.nn.Module``.

    Parameters
    ----------
    width : int
        Channels at 1/4 resolution (``2 * width`` at 1/8, ``width // 2`` at 1/2).
    depth : int
        3x3 convolutions at 1/8 resolution after the down-sampling one, with dilations
        1, 2, 4, 1, 2, 4 (at most 6): each adds context at a small cost, as 1/8 resolution
        holds 1/64 of the pixels.
    """
    if not 1 <= depth <= len(DILATIONS):
        raise ValueError(f"depth must be 1-{len(DILATIONS)}, got {depth}")
    torch = require_torch()
    nn = torch.nn

    def cbr(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1) -> Any:
        pad = dilation * (k // 2)
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))  # fmt: skip

    c1, c2, c3 = width // 2, width, 2 * width

    class SpermNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc4 = nn.Sequential(cbr(1, c1, stride=2), cbr(c1, c2, stride=2), cbr(c2, c2))
            self.enc8 = nn.Sequential(cbr(c2, c3, stride=2),
                                      *[cbr(c3, c3, dilation=d) for d in DILATIONS[:depth]])
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.fuse = nn.Sequential(cbr(c2 + c3, c2, k=1), cbr(c2, c2))
            self.head = nn.Conv2d(c2, 5, 1)
            with torch.no_grad():  # CenterNet's prior: heat starts near 0.1 % everywhere
                self.head.bias.zero_()
                self.head.bias[0] = -6.9

        def forward(self, x: Any) -> Any:
            f4 = self.enc4(x)
            f8 = self.enc8(f4)
            f = self.fuse(torch.cat([f4, self.up(f8)], dim=1))
            out = self.head(f)
            return torch.cat([torch.sigmoid(out[:, :3]), out[:, 3:]], dim=1)

    return SpermNet()
