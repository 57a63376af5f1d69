"""BT.709 limited-range 4:2:0 to 8-bit RGB, the picture a player would show for ``yuv420p`` video."""

from __future__ import annotations

import numpy as np

from cmfr_codec.io.frames import YuvFrame

KR = 0.2126
KB = 0.0722
KG = 1.0 - KR - KB

LUMA_BLACK = 16.0
LUMA_RANGE = 219.0
CHROMA_ZERO = 128.0
CHROMA_RANGE = 224.0


def upsample_chroma(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Repeat every chroma sample over its 2x2 luma block, cropping the extra row/column of odd sizes.

    Nearest-neighbour replication is the simplest upsampler and the one that adds no new values, so
    PSNR-RGB measures the codec rather than an interpolation filter.
    """
    return plane.repeat(2, axis=0).repeat(2, axis=1)[:height, :width]


def yuv420_to_rgb709(frame: YuvFrame) -> np.ndarray:
    """Convert a frame to ``(height, width, 3)`` uint8 RGB with BT.709 limited-range coefficients.

    Y spans 16..235 and Cb/Cr 16..240 around 128, as in ``yuv420p`` video.  The result is rounded
    to the nearest integer and clipped to 0..255, the 8-bit picture a display receives.
    """
    luma = (frame.y.astype(np.float64) - LUMA_BLACK) / LUMA_RANGE
    blue_difference = (upsample_chroma(frame.u, frame.height, frame.width) - CHROMA_ZERO) / CHROMA_RANGE
    red_difference = (upsample_chroma(frame.v, frame.height, frame.width) - CHROMA_ZERO) / CHROMA_RANGE
    red = luma + 2.0 * (1.0 - KR) * red_difference
    blue = luma + 2.0 * (1.0 - KB) * blue_difference
    green = (luma - KR * red - KB * blue) / KG
    rgb = np.stack([red, green, blue], axis=-1) * 255.0
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
