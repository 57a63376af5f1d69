"""The rate-distortion objective: ``loss = lambda * D + R``.

D is the MSE on [0, 1] of the 6-channel YUV 4:2:0 tensors, weighted 6:1:1 like the PSNR-YUV
the codec is judged by (the four luma phases together count six times each chroma plane); R is
bits per luma pixel.  One model covers 64 quality indices: the four anchor lambdas sit at
indices 0, 21, 42 and 63 (the anchors of :class:`~cmfr_codec.models.quality.QualityScales`)
and indices between them get log-linearly interpolated lambdas.  The anchor values are
DCVC-DC's published PSNR lambdas (10x from quality 0 to 63).  A stage's ``lambda_spread``
widens (or narrows) that range about its geometric centre, sqrt(85 * 840) ~ 267: each lambda
becomes ``centre * (anchor / centre) ** spread``, so spread 2 makes the range 98x (27.0..2641)
and the quality span of the trained model wider (docs/training.md, "The lambda range and the
quality span").
"""

from __future__ import annotations

import math

import torch

LAMBDA_ANCHORS = (85.0, 170.0, 380.0, 840.0)
ANCHOR_INDICES = (0, 21, 42, 63)
LAMBDA_CENTRE = math.sqrt(LAMBDA_ANCHORS[0] * LAMBDA_ANCHORS[-1])
CHARBONNIER_EPSILON = 0.01
"""Pixels; far below the quarter pixel that matters for warping, so the error is the end-point error
except that it stays differentiable where the two flows agree."""


def lambda_for(quality_index: float, spread: float = 1.0) -> float:
    """The rate-distortion trade-off trained at ``quality_index`` (0..63), with the anchors' range
    raised to the power ``spread`` about :data:`LAMBDA_CENTRE`."""
    if not 0 <= quality_index <= ANCHOR_INDICES[-1]:
        raise ValueError(f"quality index must be 0..{ANCHOR_INDICES[-1]}, got {quality_index}")
    if spread <= 0:
        raise ValueError(f"lambda spread must be positive, got {spread}")
    anchor_lambda = _anchor_lambda(quality_index)
    if spread == 1:
        return anchor_lambda  # bitwise the lambdas every run before the spread existed trained with
    return LAMBDA_CENTRE * math.exp(spread * math.log(anchor_lambda / LAMBDA_CENTRE))


def _anchor_lambda(quality_index: float) -> float:
    """DCVC-DC's anchors at 0, 21, 42, 63, log-linear between them."""
    for (low, high), (low_lambda, high_lambda) in zip(
        zip(ANCHOR_INDICES, ANCHOR_INDICES[1:], strict=False),
        zip(LAMBDA_ANCHORS, LAMBDA_ANCHORS[1:], strict=False),
        strict=True,
    ):
        if quality_index <= high:
            fraction = (quality_index - low) / (high - low)
            return math.exp(math.log(low_lambda) + fraction * (math.log(high_lambda) - math.log(low_lambda)))
    raise AssertionError("unreachable: the index is within the anchors")


def yuv_mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """MSE of (B, 6, h, w) YUV tensors with luma weighted 6, each chroma plane 1."""
    luma = (x_hat[:, :4] - x[:, :4]).pow(2).mean()
    chroma_u = (x_hat[:, 4] - x[:, 4]).pow(2).mean()
    chroma_v = (x_hat[:, 5] - x[:, 5]).pow(2).mean()
    return (6 * luma + chroma_u + chroma_v) / 8


def flow_endpoint_error(flow: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Charbonnier end-point error of (B, 2, h, w) flows against a target, in pixels, per sample: (B,).

    The length of the difference vector (not its L1 norm) is the usual measure of a flow's error;
    being a distance, not a squared one, it lets the pixels where the teacher is wrong (occlusions,
    flat areas) pull no harder than the others.
    """
    difference = flow.float() - target.float()
    return (difference.pow(2).sum(dim=1) + CHARBONNIER_EPSILON**2).sqrt().mean(dim=(1, 2))
