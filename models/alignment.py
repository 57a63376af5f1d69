"""Flow-guided alignment with offset diversity, built on bilinear warping (no deformable-conv kernel).

A single flow vector per pixel cannot describe occlusions, blur or several motions inside one
pixel's neighbourhood.  Offset diversity (as in DCVC-DC) splits the reference feature's channels
into groups and lets every group fetch its samples from its own position, ``flow + residual
offset``, weighted by a learned mask.  Per pixel ``p``, with ``g(c)`` the group of channel ``c``::

    out[o](p) = bias[o] + sum_c W[o, c] * mask_g(c)(p) * ref[c](p + flow(p) + offset_g(c)(p))

which is exactly a modulated deformable convolution (DCNv2) with a 1x1 kernel and ``groups``
deformable groups.  With a 1x1 kernel there is one sampling point per group, so it is a grouped
:func:`warp` followed by a 1x1 projection, and needs no deformable-conv operator (torchvision has
no CPU build here).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cmfr_codec.models import stripes
from cmfr_codec.models.layers import DepthwiseBlock, conv1x1, conv3x3
from cmfr_codec.models.motion import warp

PREDICTOR_REACH = 8
"""Rows (at full resolution) an aligned row's offsets depend on either side: the predictor's 3x3 /2
conv (1), depthwise block and last 3x3 at half resolution (2 + 2) and the bilinear x2 (2), rounded up."""


class OffsetDiversityAlignment(nn.Module):
    """Align a reference feature to the current frame with a flow plus per-group learned offsets.

    ::

        reference feature F (N, C, H, W), flow v (N, 2, H, W), optional guide g (N, G, H, W)
              |
        [warp(F, v), v, g] -- conv3x3 /2 -- LeakyReLU -- DepthwiseBlock -- conv3x3 (zero at start)
              |                                                                  |
              |                                       bilinear x2 back to (H, W) -+-> offsets o_k, masks m_k
              |                                                                  |
        F split into `groups` channel groups F_k:   m_k * warp(F_k, v + o_k)  for every group k
                                                                 |
                                                   concatenate -- conv1x1 (identity at start) --> aligned

    The offsets and masks are predicted only from what the decoder has (the warped reference, the
    decoded flow, and an optional decoder-side ``guide`` such as the warped reference frame), so
    encoder and decoder align identically.  They are predicted at half the feature's resolution:
    a quarter of the cost and a wider view, and offset fields are smooth anyway.

    Offsets are bounded, ``max_offset * tanh(.)`` pixels; masks are ``2 * sigmoid(.)``, in (0, 2),
    so that the zero-initialised last conv gives offset 0 and mask exactly 1.  With the fusion conv
    initialised to the identity, the untrained module *is* plain flow warping, ``warp(F, v)``, and
    training departs from that known-good starting point.
    """

    def __init__(
        self,
        channels: int,
        groups: int = 4,
        guide_channels: int = 0,
        hidden_channels: int | None = None,
        max_offset: float = 8.0,
    ) -> None:
        super().__init__()
        if channels % groups:
            raise ValueError(f"channels ({channels}) must be divisible by groups ({groups})")
        hidden = hidden_channels or channels
        self.groups = groups
        self.guide_channels = guide_channels
        self.max_offset = max_offset
        offsets_and_masks = conv3x3(hidden, 3 * groups)
        nn.init.zeros_(offsets_and_masks.weight)
        nn.init.zeros_(offsets_and_masks.bias)
        self.predictor = nn.Sequential(
            conv3x3(channels + 2 + guide_channels, hidden, stride=2),
            nn.LeakyReLU(0.01),
            DepthwiseBlock(hidden),
            offsets_and_masks,
        )
        self.fusion = conv1x1(channels, channels)
        with torch.no_grad():
            self.fusion.weight.copy_(torch.eye(channels)[:, :, None, None])
            self.fusion.bias.zero_()

    def forward(
        self, reference_feature: torch.Tensor, flow: torch.Tensor, guide: torch.Tensor | None = None
    ) -> torch.Tensor:
        """reference_feature (N, C, H, W), flow (N, 2, H, W), guide (N, guide_channels, H, W) or None
        -> aligned feature (N, C, H, W).

        The predictor's output channels are ``2 * groups`` offsets, (horizontal, vertical) for group
        0, then group 1, ..., followed by ``groups`` mask logits.
        """
        if (guide is None) != (self.guide_channels == 0):
            raise ValueError(f"this alignment was built for {self.guide_channels} guide channels")
        batch, channels, height, width = reference_feature.shape
        grouped_reference = reference_feature.reshape(batch * self.groups, channels // self.groups, height, width)
        bands = (flow,) if guide is None else (flow, guide)
        if stripes.active(flow):

            def band(first_row: int, flow_band: torch.Tensor, *guide_band: torch.Tensor) -> torch.Tensor:
                return self._align(reference_feature, grouped_reference, flow_band, *guide_band, band_start=first_row)

            return stripes.rowwise(band, bands, reach=PREDICTOR_REACH, out_channels=channels, align=2,
                                   with_offset=True)
        return self._align(reference_feature, grouped_reference, *bands, band_start=None)

    def _align(self, reference_feature: torch.Tensor, grouped_reference: torch.Tensor, flow: torch.Tensor,
               guide: torch.Tensor | None = None, band_start: int | None = None) -> torch.Tensor:
        """The alignment of the rows ``flow`` covers (all of them, or a band from ``band_start``)."""
        batch, channels, _, width = reference_feature.shape
        height = flow.shape[-2]
        predictor_input = [warp(reference_feature, flow, band_start), flow] + ([] if guide is None else [guide])
        prediction = self.predictor(torch.cat(predictor_input, dim=1))
        prediction = F.interpolate(prediction, size=(height, width), mode="bilinear", align_corners=False)
        offsets, mask_logits = prediction.split([2 * self.groups, self.groups], dim=1)

        group_flows = flow.repeat(1, self.groups, 1, 1) + self.max_offset * torch.tanh(offsets)
        sampled = warp(grouped_reference, group_flows.reshape(batch * self.groups, 2, height, width), band_start)
        masks = 2.0 * torch.sigmoid(mask_logits).reshape(batch * self.groups, 1, height, width)
        return self.fusion((sampled * masks).reshape(batch, channels, height, width))
