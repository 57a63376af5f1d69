"""Learned per-channel quantisation steps: one model, 64 quality indices.

Variable rate works the DCVC-DC way: the latent is divided by a per-channel step before
rounding, and multiplied back after decoding.  A larger step means coarser symbols, fewer
bits and lower quality::

    encoder:  y --/ step--> y_scaled --(latent codec)--> y_scaled_hat --* step--> y_hat  :decoder

Only four step vectors are learned, one per training lambda ("anchor"); the 64 quality
indices in between are interpolated linearly in the log domain, so the step changes by a
constant factor per index between two anchors::

    log step
       ^  * anchor 0
       |    \\
       |      * anchor 1
       |         \\
       |            * anchor 2
       |               \\
       |                  * anchor 3
       +--+-----+-----+-----+--> quality index
          0    21    42    63        (0 = lowest quality, largest step)
"""

from __future__ import annotations

import math

import torch
from torch import nn

QUALITY_LEVELS = 64
"""Quality indices 0..63: the bitstream's and every quality-dependent module's."""

INITIAL_LARGEST_STEP = 2.0
INITIAL_SMALLEST_STEP = 0.5
"""Starting steps at quality 0 and at the top index: a monotone start, so that the quality
order means something from the first training step; training moves them freely."""


class QualityScales(nn.Module):
    """Per-channel quantisation steps for ``levels`` quality indices from ``anchors`` learned vectors.

    Anchor ``k`` sits at quality index ``k * (levels - 1) / (anchors - 1)``: 0, 21, 42 and 63
    by default, which are the indices whose steps are exactly the learned vectors.
    """

    def __init__(self, channels: int, anchors: int = 4, levels: int = QUALITY_LEVELS):
        super().__init__()
        if anchors < 2 or levels < anchors:
            raise ValueError(f"need 2 <= anchors <= levels, got anchors={anchors}, levels={levels}")
        self.channels = channels
        self.anchors = anchors
        self.levels = levels
        initial = torch.linspace(math.log(INITIAL_LARGEST_STEP), math.log(INITIAL_SMALLEST_STEP), anchors)
        self.log_steps = nn.Parameter(initial[:, None].repeat(1, channels))
        """``(anchors, channels)``: log of each anchor's step; the log domain keeps steps positive."""

    def forward(self, quality_index: int | float | torch.Tensor) -> torch.Tensor:
        """Positive steps for ``quality_index``: ``(1, C, 1, 1)``, or ``(B, C, 1, 1)`` for a ``(B,)`` tensor.

        Fractional indices interpolate too, so training may sample between the anchors.
        """
        index = torch.as_tensor(quality_index, dtype=self.log_steps.dtype, device=self.log_steps.device)
        if index.ndim > 1:
            raise ValueError(f"quality_index must be a scalar or a 1-D tensor, got shape {tuple(index.shape)}")
        if bool((index < 0).any()) or bool((index > self.levels - 1).any()):
            raise ValueError(f"quality_index must lie in 0..{self.levels - 1}")
        position = index.reshape(-1) * (self.anchors - 1) / (self.levels - 1)
        lower = position.floor().clamp(max=self.anchors - 2)
        fraction = (position - lower)[:, None]
        lower = lower.long()
        log_step = (1 - fraction) * self.log_steps[lower] + fraction * self.log_steps[lower + 1]
        return log_step.exp()[:, :, None, None]
