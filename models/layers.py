"""Building blocks shared by the CMFR networks, and the tensor layout of a YUV 4:2:0 frame.

Every network in this package sees a frame as one 6-channel tensor at half luma resolution::

    Y (H, W)     -- pixel-unshuffle x2 --> 4 channels --+
    U (H/2, W/2) -------------------------> 1 channel  --+--> (1, 6, H/2, W/2), values in [0, 1]
    V (H/2, W/2) -------------------------> 1 channel  --+

so 4:2:0 video is coded natively, with no colour conversion and no chroma resampling.  The blocks
below are the convolutional pieces the intra, motion and inter networks are assembled from; the
depthwise-separable :class:`DepthwiseBlock` is the cheap one that small configurations use most.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cmfr_codec.models import stripes

LUMA_PHASES = 4
"""Channels that carry luma in the 6-channel layout: the four 2x2 phases of Y (pixel-unshuffle order)."""

FRAME_CHANNELS = LUMA_PHASES + 2
"""Channels of a frame tensor: four luma phases, then U, then V."""


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` that, when coding on the CPU, runs in fixed row stripes on every core.

    The stripes (:mod:`cmfr_codec.models.stripes`) make the result independent of the number of
    cores; training and the GPU use torch's convolution unchanged.  Same parameters as ``nn.Conv2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) -> (N, C_out, H', W')."""
        if stripes.active(x) and self.padding_mode == "zeros" and not isinstance(self.padding, str):
            return stripes.conv2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.dilation, self.groups)
        return super().forward(x)


def conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution that keeps the size (stride 1) or divides it by ``stride`` (even sizes)."""
    return Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1)


class PointwiseConv2d(Conv2d):
    """1x1 convolution that runs as a matrix product on channels-last tensors.

    torch sends a stride-1 1x1 convolution of one picture on one thread to its fallback kernel,
    which copies a channels-last input to the planar layout and back; on a channels-last input
    (the coding layout, :func:`cmfr_codec.weights.load_model`) the same map is a ``(H*W, C_in) x
    (C_in, C_out)`` product on the tensor as it lies in memory, in row stripes when coding on the
    CPU.  Same parameters as ``nn.Conv2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) -> (N, C_out, H / stride, W / stride)."""
        if self.stride == (1, 1) and stripes.active(x):
            return stripes.pointwise(x, self.weight.flatten(1), self.bias)
        if self.stride != (1, 1) or not x.is_contiguous(memory_format=torch.channels_last):
            return super().forward(x)
        pixels_by_channels = x.permute(0, 2, 3, 1)
        mixed = F.linear(pixels_by_channels, self.weight.flatten(1), self.bias)
        return mixed.permute(0, 3, 1, 2)


def conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    """Pointwise convolution: mixes channels, one pixel at a time."""
    return PointwiseConv2d(in_ch, out_ch, kernel_size=1, stride=stride)


class SubpixelConv2d(nn.Sequential):
    """A 3x3 conv to ``out_ch * r * r`` channels, then PixelShuffle(r); in row stripes when coding
    on the CPU (reach 1 input row).  Its parameters are those of the ``nn.Sequential`` it extends."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_ch, H, W) -> (N, out_ch, r H, r W)."""
        if stripes.active(x):
            shuffle = self[1].upscale_factor
            return stripes.rowwise(super().forward, (x,), reach=1,
                                   out_channels=self[0].out_channels // shuffle**2, up=shuffle)
        return super().forward(x)


def subpixel_conv3x3(in_ch: int, out_ch: int, r: int) -> nn.Sequential:
    """Sub-pixel up-sampling by ``r``: a 3x3 conv to ``out_ch * r * r`` channels, then PixelShuffle(r).

    Unlike a transposed convolution it cannot produce checkerboard patterns from uneven kernel
    overlap: every output pixel is computed by the same number of weights.
    """
    return SubpixelConv2d(conv3x3(in_ch, out_ch * r * r), nn.PixelShuffle(r))


class ResidualBlock(nn.Module):
    """``x + conv3x3(LeakyReLU(conv3x3(x)))``: same channels and size in and out.

    ::

        x --+-- conv3x3 -- LeakyReLU -- conv3x3 --(+)--> out
            +---------------------------------------+
    """

    def __init__(self, channels: int, slope: float = 0.01) -> None:
        super().__init__()
        self.conv1 = conv3x3(channels, channels)
        self.activation = nn.LeakyReLU(slope)
        self.conv2 = conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C, H, W); in row stripes when coding on the CPU (two 3x3: reach 2)."""
        if stripes.active(x):
            return stripes.rowwise(self._block, (x,), reach=2, out_channels=x.shape[1])
        return self._block(x)

    def _block(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.activation(self.conv1(x)))


class DepthwiseBlock(nn.Module):
    """Depthwise-separable spatial mixing, then a pointwise feed-forward, each with a skip (DCVC-DC/RT style).

    ::

        x --+-- 1x1 (C -> eC) -- depthwise 3x3 -- LeakyReLU -- 1x1 (eC -> C) --(+)--> h
            +-------------------------------------------------------------------+

        h --+-- 1x1 (C -> eC) -- LeakyReLU -- 1x1 (eC -> C) --(+)--> out
            +--------------------------------------------------+

    Per pixel it costs about ``4 e C^2 + 9 e C`` multiply-accumulates against ``18 C^2`` for a
    :class:`ResidualBlock`: with ``e = 2`` and ``C = 64`` that is 2.2x cheaper, which is why the
    small model is built mostly from it.  Spatial reach comes only from the depthwise 3x3.
    """

    def __init__(self, channels: int, expansion: int = 2, slope: float = 0.01) -> None:
        super().__init__()
        hidden = channels * expansion
        self.spatial = nn.Sequential(
            conv1x1(channels, hidden),
            Conv2d(hidden, hidden, kernel_size=3, padding=1, groups=hidden),
            nn.LeakyReLU(slope),
            conv1x1(hidden, channels),
        )
        self.feed_forward = nn.Sequential(
            conv1x1(channels, hidden),
            nn.LeakyReLU(slope),
            conv1x1(hidden, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C, H, W); in row stripes when coding on the CPU (one 3x3: reach 1)."""
        if stripes.active(x):
            return stripes.rowwise(self._block, (x,), reach=1, out_channels=x.shape[1])
        return self._block(x)

    def _block(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.spatial(x)
        return x + self.feed_forward(x)


class ResidualBlockWithStride(nn.Module):
    """Down-sampling residual block: size divided by ``stride``, channels ``in_ch`` -> ``out_ch``.

    ::

        x --+-- conv3x3 /stride -- LeakyReLU -- conv3x3 --(+)--> out
            +-- conv1x1 /stride (identity if nothing changes) -+

    The shortcut is a strided 1x1 conv, the cheapest map that matches both shape changes.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 2, slope: float = 0.01) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_ch, out_ch, stride=stride)
        self.activation = nn.LeakyReLU(slope)
        self.conv2 = conv3x3(out_ch, out_ch)
        self.shortcut: nn.Module = (
            conv1x1(in_ch, out_ch, stride=stride) if stride != 1 or in_ch != out_ch else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_ch, H, W) -> (N, out_ch, ceil(H / stride), ceil(W / stride)); in row stripes when
        coding on the CPU with stride 2 (reach 3 input rows: 1 for the strided 3x3, 2 for the next)."""
        if stripes.active(x) and self.conv1.stride == (2, 2):
            return stripes.rowwise(self._block, (x,), reach=3,
                                   out_channels=self.conv2.out_channels, down=2)
        return self._block(x)

    def _block(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv2(self.activation(self.conv1(x)))


class ResidualBlockUpsample(nn.Module):
    """Up-sampling residual block: size doubled by sub-pixel convolution, channels ``in_ch`` -> ``out_ch``.

    ::

        x --+-- subpixel_conv3x3 x2 -- LeakyReLU -- conv3x3 --(+)--> out
            +-- subpixel_conv3x3 x2 --------------------------+
    """

    def __init__(self, in_ch: int, out_ch: int, slope: float = 0.01) -> None:
        super().__init__()
        self.upsample = subpixel_conv3x3(in_ch, out_ch, 2)
        self.activation = nn.LeakyReLU(slope)
        self.conv = conv3x3(out_ch, out_ch)
        self.shortcut = subpixel_conv3x3(in_ch, out_ch, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_ch, H, W) -> (N, out_ch, 2H, 2W); in row stripes when coding on the CPU (reach 2
        input rows: 1 for the sub-pixel 3x3, 1 for the 3x3 after it)."""
        if stripes.active(x):
            return stripes.rowwise(self._block, (x,), reach=2,
                                   out_channels=self.conv.out_channels, up=2)
        return self._block(x)

    def _block(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv(self.activation(self.upsample(x)))


class UNet(nn.Module):
    """A small three-level UNet for frame generation and refinement.

    ::

        in_ch - conv3x3 - blocks(c1) - e1 ---------------------------------(+)- blocks(c1) - conv3x3 -> out_ch
                                        |                                   |
                               conv3x3 /2 (c2)                     subpixel x2 (c2 -> c1)
                                        |                                   |
                                blocks(c2) - e2 --------------(+)- blocks(c2)
                                               |               |
                                      conv3x3 /2 (c3)   subpixel x2 (c3 -> c2)
                                               |               |
                                               +- blocks(c3) --+

    "blocks" are ``blocks_per_stage`` :class:`DepthwiseBlock`.  Skips are joined by addition, not
    concatenation: the up-sampled path already has the skip's channel count, so addition needs no
    extra fusion conv and costs nothing, while the blocks after it still mix the two freely.
    Input height and width must be multiples of 4 (two halvings); callers pad with
    :func:`pad_to_multiple`.  The output is not added to the input: a refinement caller adds it.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        channels: tuple[int, int, int] = (32, 64, 96),
        blocks_per_stage: int = 1,
    ) -> None:
        super().__init__()
        c1, c2, c3 = channels

        def blocks(width: int) -> nn.Sequential:
            return nn.Sequential(*(DepthwiseBlock(width) for _ in range(blocks_per_stage)))

        self.head = conv3x3(in_ch, c1)
        self.encode1 = blocks(c1)
        self.down1 = conv3x3(c1, c2, stride=2)
        self.encode2 = blocks(c2)
        self.down2 = conv3x3(c2, c3, stride=2)
        self.bottleneck = blocks(c3)
        self.up2 = subpixel_conv3x3(c3, c2, 2)
        self.decode2 = blocks(c2)
        self.up1 = subpixel_conv3x3(c2, c1, 2)
        self.decode1 = blocks(c1)
        self.tail = conv3x3(c1, out_ch)

    def forward(self, x: torch.Tensor, *more: torch.Tensor) -> torch.Tensor:
        """(N, in_ch, H, W) -> (N, out_ch, H, W); H and W multiples of 4, else ValueError.

        Several inputs are concatenated along the channels (their channels add up to ``in_ch``).
        """
        height, width = x.shape[-2:]
        if height % 4 or width % 4:
            raise ValueError(f"UNet input size must be a multiple of 4, got {height}x{width}; pad it first")
        skip1 = self.encode1(after_cat(self.head, 1, self.head.out_channels, x, *more))
        skip2 = self.encode2(self.down1(skip1))
        deepest = self.bottleneck(self.down2(skip2))
        reach = len(self.decode1)  # one 3x3 per DepthwiseBlock
        decoded2 = after_sum(self.decode2, reach, skip2.shape[1], self.up2(deepest), skip2)
        return after_sum(self._last_stage, reach + 1, self.tail.out_channels, self.up1(decoded2), skip1)

    def _last_stage(self, joined: torch.Tensor) -> torch.Tensor:
        return self.tail(self.decode1(joined))


def after_sum(module: nn.Module, reach: int, out_channels: int, *parts: torch.Tensor) -> torch.Tensor:
    """``module(parts[0] + parts[1] + ...)``: a skip joined by addition, then the layers after it.

    When coding on the CPU the sum is formed inside each row stripe of ``module``
    (:func:`stripes.rowwise`, ``reach`` rows of halo), so no full-size sum is made on one thread
    while the other cores wait.  ``module`` must keep the rows (stride 1).
    """
    if stripes.active(parts[0]):
        return stripes.rowwise(lambda *pieces: module(sum(pieces[1:], pieces[0])), parts, reach=reach,
                               out_channels=out_channels)
    return module(sum(parts[1:], parts[0]))


def after_cat(module: nn.Module, reach: int, out_channels: int, *parts: torch.Tensor) -> torch.Tensor:
    """``module(torch.cat(parts, dim=1))``, with the concatenation made inside each row stripe
    when coding on the CPU (as :func:`after_sum`)."""
    if len(parts) > 1 and stripes.active(parts[0]):
        return stripes.rowwise(lambda *pieces: module(torch.cat(pieces, dim=1)), parts, reach=reach,
                               out_channels=out_channels)
    return module(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Replicate-pad the bottom and right of ``x`` (..., H, W) so both sizes are multiples of ``multiple``.

    Returns the padded tensor and ``(pad_bottom, pad_right)``.  Replication (not zeros) keeps the
    padded area looking like the picture edge, so it costs few bits and leaves no dark border for
    motion estimation to lock onto.  :func:`crop_to` undoes it.
    """
    height, width = x.shape[-2:]
    pad_bottom = -height % multiple
    pad_right = -width % multiple
    if pad_bottom or pad_right:
        x = F.pad(x, (0, pad_right, 0, pad_bottom), mode="replicate")
    return x, (pad_bottom, pad_right)


def crop_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The top-left ``height`` x ``width`` of ``x`` (..., H, W): undoes :func:`pad_to_multiple`."""
    if height > x.shape[-2] or width > x.shape[-1]:
        raise ValueError(f"cannot crop a {x.shape[-2]}x{x.shape[-1]} tensor to {height}x{width}")
    return x[..., :height, :width]


def yuv420_to_tensor(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> torch.Tensor:
    """8-bit 4:2:0 planes -> float32 tensor (1, 6, ceil(H/2), ceil(W/2)) in [0, 1].

    ``y`` is (H, W); ``u`` and ``v`` are (ceil(H/2), ceil(W/2)), the yuv420p layout for any size.
    An odd luma height or width is first made even by replicating its last row or column, so its
    size matches the chroma planes after pixel-unshuffle; :func:`tensor_to_yuv420` crops it back.
    Channels 0-3 are the luma phases (row, column) = (0,0), (0,1), (1,0), (1,1); channel 4 is U
    and channel 5 is V.
    """
    height, width = y.shape
    chroma_shape = ((height + 1) // 2, (width + 1) // 2)
    for name, plane in (("y", y), ("u", u), ("v", v)):
        if plane.dtype != np.uint8 or plane.ndim != 2:
            raise ValueError(f"plane {name} must be a 2-D uint8 array, got {plane.dtype} {plane.shape}")
    if u.shape != chroma_shape or v.shape != chroma_shape:
        raise ValueError(f"chroma planes must be {chroma_shape} for a {width}x{height} frame")

    def as_unit_tensor(plane: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(plane)).to(torch.float32).div_(255.0)[None, None]

    luma, _ = pad_to_multiple(as_unit_tensor(y), 2)
    return torch.cat([F.pixel_unshuffle(luma, 2), as_unit_tensor(u), as_unit_tensor(v)], dim=1)


def tensor_to_yuv420(t: torch.Tensor, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float tensor (1, 6, h, w) -> 8-bit planes (y, u, v) of a ``width`` x ``height`` frame.

    Values are clamped to [0, 1] and rounded with ``torch.round(x * 255)`` (half to even); the
    tensor may be larger than the frame (model padding), and is cropped to (height, width) for
    luma and (ceil(height/2), ceil(width/2)) for chroma.  For planes that came from
    :func:`yuv420_to_tensor` the round trip is exact.
    """
    chroma_height, chroma_width = (height + 1) // 2, (width + 1) // 2
    if t.dim() != 4 or t.shape[0] != 1 or t.shape[1] != FRAME_CHANNELS:
        raise ValueError(f"expected a (1, {FRAME_CHANNELS}, h, w) tensor, got {tuple(t.shape)}")
    if t.shape[-2] < chroma_height or t.shape[-1] < chroma_width:
        raise ValueError(f"a {tuple(t.shape)} tensor is too small for a {width}x{height} frame")
    samples = torch.round(t.detach().clamp(0.0, 1.0) * 255.0).to(torch.uint8).cpu()
    luma = crop_to(F.pixel_shuffle(samples[:, :LUMA_PHASES], 2), height, width)
    chroma = crop_to(samples[:, LUMA_PHASES:], chroma_height, chroma_width)

    def as_plane(plane: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(plane.numpy())

    return as_plane(luma[0, 0]), as_plane(chroma[0, 0]), as_plane(chroma[0, 1])
