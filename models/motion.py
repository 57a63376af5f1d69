"""Optical flow: backward warping, a SpyNet-style estimator, and the CMFR Motion Refiner.

A flow ``v`` (N, 2, H, W) is in pixels of the tensor it is used with; channel 0 is horizontal
(positive = right), channel 1 vertical (positive = down).  It is a *backward* flow: the pixel at
``p`` of the current frame is predicted from ``p + v(p)`` in the reference, so
``warp(reference, v)`` approximates the current frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cmfr_codec.models import stripes
from cmfr_codec.models.layers import FRAME_CHANNELS, DepthwiseBlock, conv3x3, crop_to, pad_to_multiple


def warp(x: torch.Tensor, flow: torch.Tensor, band_start: int | None = None) -> torch.Tensor:
    """Bilinear backward warping: ``out[..., p] = x[..., p + flow(p)]``; (N, C, H, W) -> (N, C, H, W).

    Samples that fall outside ``x`` take the nearest edge value (``padding_mode="border"``), the
    same assumption as replicate padding.  Pixel ``i`` of a size-``S`` axis is normalised to
    ``(2 i + 1) / S - 1`` with ``align_corners=False``: this maps pixel centres exactly, and,
    unlike ``align_corners=True``, stays defined on axes of size 1.  With ``band_start``, ``flow``
    covers only ``x``'s rows from ``band_start`` on (a row stripe), and so does the result.
    """
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow must be (N, 2, H, W), got {tuple(flow.shape)}")
    first = 0 if band_start is None else band_start
    rows_fit = (x.dim() == 4 and 0 <= first and first + flow.shape[-2] <= x.shape[-2]
                and (band_start is not None or x.shape[-2] == flow.shape[-2]))
    if not rows_fit or x.shape[0] != flow.shape[0] or x.shape[-1] != flow.shape[-1]:
        raise ValueError(f"cannot warp a {tuple(x.shape)} tensor with a {tuple(flow.shape)} flow")
    height, width = x.shape[-2], flow.shape[-1]
    # Sample positions need float32 at least: bfloat16 cannot even count the columns past 256.  A
    # reduced-precision x is sampled in float32 too (torch 2.13's CPU grid_sample returns NaN in bfloat16).
    dtype = torch.promote_types(flow.dtype, torch.float32)
    columns = torch.arange(width, dtype=dtype, device=flow.device)
    rows = torch.arange(first, first + flow.shape[-2], dtype=dtype, device=flow.device)[:, None]
    grid_x = (2.0 * (columns + flow[:, 0].to(dtype)) + 1.0) / width - 1.0
    grid_y = (2.0 * (rows + flow[:, 1].to(dtype)) + 1.0) / height - 1.0
    grid = torch.stack((grid_x, grid_y), dim=-1)
    sampling = torch.promote_types(x.dtype, dtype)
    sampled = F.grid_sample(x.to(sampling), grid.to(sampling), mode="bilinear", padding_mode="border",
                            align_corners=False)
    return sampled.to(x.dtype)


def resize_flow(flow: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resample a flow field to ``height`` x ``width`` and rescale its vectors to the new pixel size.

    Bilinear interpolation with ``align_corners=False`` (exact 2x2 averaging when halving); the
    horizontal component is multiplied by ``width / W`` and the vertical one by ``height / H``,
    because a displacement of one pixel at one resolution is a different number of pixels at another.
    """
    old_height, old_width = flow.shape[-2:]
    resized = F.interpolate(flow, size=(height, width), mode="bilinear", align_corners=False)
    scale = torch.tensor([width / old_width, height / old_height], dtype=flow.dtype, device=flow.device)
    return resized * scale[None, :, None, None]


COST_SCALE = 100.0
"""Matching costs are mean squared differences of [0, 1] samples (about 0.001 to 0.01 where frames
match badly); times 100 they are of the order of the other inputs of a level's network."""


def matching_costs(current: torch.Tensor, warped: torch.Tensor, radius: int) -> torch.Tensor:
    """A local cost volume: (N, C, H, W) twice -> (N, (2 radius + 1) ** 2, H, W).

    Channel ``(dy + radius) * (2 radius + 1) + (dx + radius)`` holds, for each pixel ``p``, minus
    ``COST_SCALE`` times the mean squared difference between ``current`` and ``warped`` shifted by
    ``(dx, dy)`` (``warped[p + (dx, dy)]``, edges replicated), over the channels and a 3x3 window
    around ``p``.  The highest cost channel at ``p`` is the integer displacement that matches best,
    which a network reads far more easily than it learns to compare raw pixels (docs/training.md,
    "A cost volume, frame strides and synthetic motion").
    """
    height, width = current.shape[-2:]
    padded = F.pad(warped, (radius, radius, radius, radius), mode="replicate")
    costs = []
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            shifted = padded[:, :, dy:dy + height, dx:dx + width]
            costs.append((current - shifted).square().mean(dim=1, keepdim=True))
    windowed = F.avg_pool2d(torch.cat(costs, dim=1), 3, stride=1, padding=1, count_include_pad=False)
    return windowed * -COST_SCALE


class SpyNetFlow(nn.Module):
    """Coarse-to-fine flow estimation between two frames (SpyNet-style pyramid).

    ::

        current, reference --avg-pool x2 (levels - 1 times)--> pyramid, coarsest first
        flow = 0 at the coarsest level
        for each level, coarse to fine:
            flow = resize_flow(flow, level size)                  (x2 in size and in value)
            flow = flow + net_level([costs, current, warp(reference, flow), flow])

    ``costs`` is the local cost volume of ``current`` against the warped reference
    (:func:`matching_costs`, displacements up to ``cost_radius`` pixels of the level), present only
    when ``cost_radius`` > 0; without it (the first trained weights) the level networks must learn
    to compare pixels themselves, which they did not manage at CPU budgets (docs/training.md).

    Each ``net_level`` is its own small stack of 3x3 convs (``channels`` wide, LeakyReLU 0.1) ending
    in a 3x3 conv to 2 channels that starts at zero, so an untrained estimator outputs zero flow
    and training begins from "no motion".  Inputs of any size are replicate-padded to a multiple of
    ``2 ** (levels - 1)`` and the flow is cropped back.  A level's receptive field lets it correct
    up to about ``len(channels) + 1`` of its own pixels, so the whole pyramid reaches about
    ``(len(channels) + 1) * (2 ** levels - 1)`` pixels (75 half-resolution pixels by default).
    """

    def __init__(
        self,
        in_channels: int = FRAME_CHANNELS,
        levels: int = 4,
        channels: tuple[int, ...] = (32, 64, 32, 16),
        cost_radius: int = 0,
    ) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        if cost_radius < 0:
            raise ValueError(f"cost_radius must be 0 or more, got {cost_radius}")
        self.levels = levels
        self.cost_radius = cost_radius
        cost_channels = (2 * cost_radius + 1) ** 2 if cost_radius else 0
        level_inputs = cost_channels + 2 * in_channels + 2
        self.level_nets = nn.ModuleList(self._level_net(level_inputs, channels) for _ in range(levels))

    @staticmethod
    def _level_net(in_ch: int, channels: tuple[int, ...]) -> nn.Sequential:
        layers: list[nn.Module] = []
        for width in channels:
            layers += [conv3x3(in_ch, width), nn.LeakyReLU(0.1)]
            in_ch = width
        residual_flow = conv3x3(in_ch, 2)
        nn.init.zeros_(residual_flow.weight)
        nn.init.zeros_(residual_flow.bias)
        return nn.Sequential(*layers, residual_flow)

    def forward(self, current: torch.Tensor, reference: torch.Tensor, finest_level: int = 0) -> torch.Tensor:
        """(N, C, H, W) twice -> flow (N, 2, H, W) with ``warp(reference, flow)`` close to ``current``.

        ``finest_level`` > 0 stops the pyramid that many levels early and resizes the flow of that
        level to the input size: 1 skips the full-resolution level, three quarters of the cost (the
        encoder's fast preset; the decoder never estimates flow).
        """
        if current.shape != reference.shape:
            raise ValueError(f"frames differ in shape: {tuple(current.shape)} vs {tuple(reference.shape)}")
        if not 0 <= finest_level < self.levels:
            raise ValueError(f"finest_level must be 0..{self.levels - 1}, got {finest_level}")
        height, width = current.shape[-2:]
        current_pyramid = [pad_to_multiple(current, 2 ** (self.levels - 1))[0]]
        reference_pyramid = [pad_to_multiple(reference, 2 ** (self.levels - 1))[0]]
        for _ in range(self.levels - 1):
            current_pyramid.append(F.avg_pool2d(current_pyramid[-1], 2))
            reference_pyramid.append(F.avg_pool2d(reference_pyramid[-1], 2))

        coarsest = current_pyramid[-1]
        flow = coarsest.new_zeros(coarsest.shape[0], 2, *coarsest.shape[-2:])
        for level in reversed(range(finest_level, self.levels)):
            level_current, level_reference = current_pyramid[level], reference_pyramid[level]
            flow = resize_flow(flow, *level_current.shape[-2:])
            flow = flow + self._correction(level, level_current, warp(level_reference, flow), flow)
        if finest_level:
            flow = resize_flow(flow, *current_pyramid[0].shape[-2:])
        return crop_to(flow, height, width)

    def _correction(self, level: int, current: torch.Tensor, warped: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """One level's flow correction.  Coding on the CPU, in row stripes, cost volume included, so
        that its (2 r + 1) ** 2 channels exist only a stripe at a time: one row of reach per 3x3
        conv, and r + 1 rows for the costs (shifts of up to r rows, then a 3x3 window)."""
        net = self.level_nets[level]

        def correction(current: torch.Tensor, warped: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
            inputs = [current, warped, flow]
            if self.cost_radius:
                inputs.insert(0, matching_costs(current, warped, self.cost_radius))
            return net(torch.cat(inputs, dim=1))

        if stripes.active(current):
            convolutions = sum(isinstance(layer, nn.Conv2d) for layer in net)
            reach = convolutions + (self.cost_radius + 1 if self.cost_radius else 0)
            return stripes.rowwise(correction, (current, warped, flow), reach=reach, out_channels=2)
        return correction(current, warped, flow)


class MotionRefiner(nn.Module):
    """The CMFR Motion Refiner: a decoder-side correction of the decoded flow, costing no bits.

    ::

        flow v, reference x, motion feature f
              |
        [v, x, warp(x, v), f] -- conv3x3 -- DepthwiseBlock x blocks -- conv3x3 (zero at start) --> dv
                                                                                                  |
        v' = v + dv <---------------------------------------------------------------------------+

    Everything it reads is known to the decoder (the decoded flow, the previous decoded frame and
    the motion decoder's last feature), so the encoder and the decoder refine identically.  The last
    conv starts at zero: an untrained refiner returns the flow unchanged, and switching the
    refiner on cannot make a trained motion coder worse before fine-tuning starts.  All inputs are
    at the flow's resolution.
    """

    def __init__(
        self,
        channels: int,
        feature_channels: int,
        frame_channels: int = FRAME_CHANNELS,
        blocks: int = 2,
    ) -> None:
        super().__init__()
        self.head = conv3x3(2 + 2 * frame_channels + feature_channels, channels)
        self.body = nn.Sequential(*(DepthwiseBlock(channels) for _ in range(blocks)))
        self.flow_correction = conv3x3(channels, 2)
        nn.init.zeros_(self.flow_correction.weight)
        nn.init.zeros_(self.flow_correction.bias)

    def forward(
        self, flow: torch.Tensor, reference: torch.Tensor, motion_feature: torch.Tensor
    ) -> torch.Tensor:
        """flow (N, 2, H, W), reference (N, frame_channels, H, W), motion_feature (N, feature_channels, H, W)
        -> refined flow (N, 2, H, W)."""
        if motion_feature.shape[-2:] != flow.shape[-2:]:
            raise ValueError(
                f"motion feature {tuple(motion_feature.shape)} is not at the flow's size {tuple(flow.shape)}"
            )
        if stripes.active(flow):  # coding on the CPU: the whole refiner per row stripe, warp included
            reach = 2 + len(self.body)  # head, one 3x3 per DepthwiseBlock, flow correction

            def band(first_row: int, flow_band: torch.Tensor, feature_band: torch.Tensor) -> torch.Tensor:
                return self._refine(flow_band, reference, feature_band, first_row)

            return stripes.rowwise(band, (flow, motion_feature), reach=reach, out_channels=2, with_offset=True)
        return self._refine(flow, reference, motion_feature, None)

    def _refine(self, flow: torch.Tensor, reference: torch.Tensor, motion_feature: torch.Tensor,
                band_start: int | None) -> torch.Tensor:
        """The refined flow of the rows ``flow`` covers: all of them, or a band from ``band_start``."""
        rows = reference if band_start is None else reference[:, :, band_start:band_start + flow.shape[-2]]
        guide = torch.cat([flow, rows, warp(reference, flow, band_start), motion_feature], dim=1)
        return flow + self.flow_correction(self.body(self.head(guide)))
