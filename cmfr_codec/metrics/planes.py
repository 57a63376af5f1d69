"""What every frame metric shares: pairing frames of one size and the 6:1:1 plane weighting."""

from __future__ import annotations

from cmfr_codec.io.frames import YuvFrame

LUMA_WEIGHT = 6
CHROMA_WEIGHT = 1


def check_same_size(reference: YuvFrame, decoded: YuvFrame) -> None:
    """Refuse to score frames of different sizes: a scaled or cropped decode is a bug, not a distortion."""
    if (reference.width, reference.height) != (decoded.width, decoded.height):
        raise ValueError(
            f"cannot compare a {reference.width}x{reference.height} reference "
            f"with a {decoded.width}x{decoded.height} decoded frame"
        )


def weight_yuv(luma: float, chroma_u: float, chroma_v: float) -> float:
    """Combine per-plane scores 6:1:1, the weighting the DCVC papers report as the YUV score.

    Luma gets six times the weight of each chroma plane: it carries four times as many samples
    in 4:2:0 and most of what a viewer perceives.
    """
    total = LUMA_WEIGHT + 2 * CHROMA_WEIGHT
    return (LUMA_WEIGHT * luma + CHROMA_WEIGHT * chroma_u + CHROMA_WEIGHT * chroma_v) / total
