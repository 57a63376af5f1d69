"""Temporal contexts and the contextual coder of the P-frame codec, with Scaled Feature Fusion.

A P-frame is coded *conditionally*: the encoder and the decoder both see multi-scale temporal
contexts C1, C2, C3, made from the previous reconstructed feature and the decoded flow, and
fuse them into every stage of their transforms (DCVC-DC).  Sizes are relative to the
half-resolution frame grid (1 = half of luma)::

    reference feature F (feature_channels, 1)
      conv3x3 + blocks ------------------> f1 (c1, 1) --offset-diversity alignment(v, guide)--> a1
      ResidualBlockWithStride -----------> f2 (c2, 1/2) --warp(resize_flow(v))--------------> a2
      ResidualBlockWithStride -----------> f3 (c3, 1/4) --warp(resize_flow(v))--------------> a3
    C3 = blocks(a3);  C2 = blocks(a2 + up(C3));  C1 = blocks(a1 + up(C2))       (top-down fusion)

    contextual encoder:  h (1) -SFF(C1)- /2 -SFF(C2)- /2 -SFF(C3)- /2 -> y (latent, 1/8)
    contextual decoder:  y_hat -x2- SFF(C3) -x2- SFF(C2) -x2- SFF(C1) -> feature (1)

Scaled Feature Fusion (CMFR method 2, architecture section 1) is one module,
:class:`ScaledFeatureFusion`, used by both transforms: the encoder removes the part of its signal
the context can explain before fusing, the decoder adds it back.
"""

from __future__ import annotations

import torch
from torch import nn

from cmfr_codec.models import stripes
from cmfr_codec.models.alignment import OffsetDiversityAlignment
from cmfr_codec.models.layers import (
    DepthwiseBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    after_sum,
    conv1x1,
    conv3x3,
    subpixel_conv3x3,
)
from cmfr_codec.models.motion import resize_flow, warp

Contexts = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""(C1, C2, C3): temporal contexts at 1, 1/2 and 1/4 of the half-resolution grid."""


def blocks(channels: int, count: int) -> nn.Sequential:
    """``count`` :class:`DepthwiseBlock` of ``channels`` channels in a row."""
    return nn.Sequential(*(DepthwiseBlock(channels) for _ in range(count)))


class ScaledFeatureFusion(nn.Module):
    """Fuse a context ``c`` into a signal ``h``, with or without Scaled Feature Fusion.

    ::

        sff, encoder (restore=False):  h <- fuse([h - a(c) * b(c), c])
        sff, decoder (restore=True):   h <- fuse([h + a(c) * b(c), c])
        no sff:                        h <- fuse([h, c])

    ``b(c)`` is a 1x1 conv projection of the context to ``h``'s channels and
    ``a(c) = sigmoid(conv1x1(c))`` a content-adaptive scale per channel and pixel: the encoder
    subtracts what the context explains before the usual fusion, so the transform spends its
    capacity (and the latent its bits) on what the context cannot predict.  ``fuse`` is a 3x3
    conv over the concatenation.  ``a`` and ``b`` are pointwise because the context already has
    its spatial view (its own blocks, the alignment) and ``fuse`` adds one more; 3x3 convs would
    double the cost of a fusion at half resolution.  The projection starts at zero, so an untrained module with
    ``sff`` computes exactly the plain fusion; training moves away from that baseline.
    """

    def __init__(self, channels: int, context_channels: int, out_channels: int, sff: bool = True,
                 restore: bool = False) -> None:
        super().__init__()
        self.sff = sff
        self.sign = 1.0 if restore else -1.0
        if sff:
            self.scale = conv1x1(context_channels, channels)
            self.projection = conv1x1(context_channels, channels)
            nn.init.zeros_(self.projection.weight)
            nn.init.zeros_(self.projection.bias)
        self.fuse = conv3x3(channels + context_channels, out_channels)

    def forward(self, h: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """h (N, channels, H, W), context (N, context_channels, H, W) -> (N, out_channels, H, W);
        in row stripes when coding on the CPU (reach 1: the 3x3 fuse)."""
        if stripes.active(h):
            return stripes.rowwise(self._fused, (h, context),
                                   reach=1, out_channels=self.fuse.out_channels)
        return self._fused(h, context)

    def _fused(self, h: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        if self.sff:
            h = h + self.sign * torch.sigmoid(self.scale(context)) * self.projection(context)
        return self.fuse(torch.cat([h, context], dim=1))


class TemporalContexts(nn.Module):
    """Multi-scale motion-compensated contexts C1, C2, C3 from a reference feature and a flow.

    Scale 1 is aligned with :class:`OffsetDiversityAlignment` (guided by a decoder-side tensor,
    the warped reference frame); the coarser scales, where a flow error is a fraction of a pixel,
    are warped with the resized flow.  A top-down pass (sub-pixel up-sampling, added like the
    UNet's skips) lets the coarse, wide-view contexts inform the fine ones.
    """

    def __init__(self, feature_channels: int, context_channels: tuple[int, int, int], alignment_groups: int,
                 guide_channels: int, blocks_per_stage: int) -> None:
        super().__init__()
        c1, c2, c3 = context_channels
        self.extract1 = nn.Sequential(conv3x3(feature_channels, c1), *blocks(c1, blocks_per_stage))
        self.extract2 = ResidualBlockWithStride(c1, c2)
        self.extract3 = ResidualBlockWithStride(c2, c3)
        self.alignment = OffsetDiversityAlignment(c1, alignment_groups, guide_channels=guide_channels)
        self.refine3 = blocks(c3, blocks_per_stage)
        self.up3 = subpixel_conv3x3(c3, c2, 2)
        self.refine2 = blocks(c2, blocks_per_stage)
        self.up2 = subpixel_conv3x3(c2, c1, 2)
        self.refine1 = blocks(c1, blocks_per_stage)

    def forward(self, reference_feature: torch.Tensor, flow: torch.Tensor, guide: torch.Tensor) -> Contexts:
        """reference_feature (N, feature_channels, H, W), flow (N, 2, H, W), guide (N, guide_channels, H, W)
        -> (C1, C2, C3) at (H, W), (H/2, W/2), (H/4, W/4); H and W multiples of 4."""
        f1 = self.extract1(reference_feature)
        f2 = self.extract2(f1)
        f3 = self.extract3(f2)
        aligned1 = self.alignment(f1, flow, guide)
        aligned2 = warp(f2, resize_flow(flow, *f2.shape[-2:]))
        aligned3 = warp(f3, resize_flow(flow, *f3.shape[-2:]))
        context3 = self.refine3(aligned3)
        reach = len(self.refine1)  # one 3x3 per block
        context2 = after_sum(self.refine2, reach, aligned2.shape[1], aligned2, self.up3(context3))
        context1 = after_sum(self.refine1, reach, aligned1.shape[1], aligned1, self.up2(context2))
        return context1, context2, context3


class ContextualEncoder(nn.Module):
    """Conditional analysis transform: (N, in_channels, H, W) and contexts -> y (N, latent, H/8, W/8)."""

    def __init__(self, in_channels: int, context_channels: tuple[int, int, int],
                 transform_channels: tuple[int, int, int], latent_channels: int, blocks_per_stage: int,
                 sff: bool) -> None:
        super().__init__()
        c1, c2, c3 = context_channels
        t1, t2, t3 = transform_channels
        self.fuse1 = ScaledFeatureFusion(in_channels, c1, t1, sff)
        self.stage1 = blocks(t1, blocks_per_stage)
        self.down2 = ResidualBlockWithStride(t1, t2)
        self.fuse2 = ScaledFeatureFusion(t2, c2, t2, sff)
        self.stage2 = blocks(t2, blocks_per_stage)
        self.down3 = ResidualBlockWithStride(t2, t3)
        self.fuse3 = ScaledFeatureFusion(t3, c3, t3, sff)
        self.stage3 = blocks(t3, blocks_per_stage)
        self.to_latent = conv3x3(t3, latent_channels, stride=2)

    def forward(self, h: torch.Tensor, contexts: Contexts) -> torch.Tensor:
        context1, context2, context3 = contexts
        h = self.stage1(self.fuse1(h, context1))
        h = self.stage2(self.fuse2(self.down2(h), context2))
        h = self.stage3(self.fuse3(self.down3(h), context3))
        return self.to_latent(h)


class ContextualDecoder(nn.Module):
    """Conditional synthesis transform, the encoder's mirror: y_hat (N, latent, H/8, W/8) and contexts
    -> (N, out_channels, H, W)."""

    def __init__(self, latent_channels: int, context_channels: tuple[int, int, int],
                 transform_channels: tuple[int, int, int], out_channels: int, blocks_per_stage: int,
                 sff: bool) -> None:
        super().__init__()
        c1, c2, c3 = context_channels
        t1, t2, t3 = transform_channels
        self.up3 = ResidualBlockUpsample(latent_channels, t3)
        self.fuse3 = ScaledFeatureFusion(t3, c3, t3, sff, restore=True)
        self.stage3 = blocks(t3, blocks_per_stage)
        self.up2 = ResidualBlockUpsample(t3, t2)
        self.fuse2 = ScaledFeatureFusion(t2, c2, t2, sff, restore=True)
        self.stage2 = blocks(t2, blocks_per_stage)
        # A plain sub-pixel conv for the last (most expensive) up-step, as in the intra codec.
        self.up1 = subpixel_conv3x3(t2, t1, 2)
        self.fuse1 = ScaledFeatureFusion(t1, c1, t1, sff, restore=True)
        self.stage1 = blocks(t1, blocks_per_stage)
        self.to_feature = conv3x3(t1, out_channels)

    def forward(self, y_hat: torch.Tensor, contexts: Contexts) -> torch.Tensor:
        context1, context2, context3 = contexts
        h = self.stage3(self.fuse3(self.up3(y_hat), context3))
        h = self.stage2(self.fuse2(self.up2(h), context2))
        h = self.stage1(self.fuse1(self.up1(h), context1))
        return self.to_feature(h)
