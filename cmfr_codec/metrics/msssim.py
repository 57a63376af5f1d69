"""MS-SSIM of 8-bit planes with pytorch-msssim, including planes too small for five scales.

pytorch-msssim's ``ms_ssim`` downsamples four times and needs the smaller side to exceed
``(window - 1) * 16``: 160 pixels for the standard 11-tap window.  The chroma planes of a 416x240
sequence are 208x120, so small planes are routine, and they are scored as follows:

* smaller side > 160: standard MS-SSIM, window 11, sigma 1.5, five scales;
* 33..160: still five scales with the standard weights, but with the largest odd window ``w >= 3``
  for which ``(w - 1) * 16`` is below the smaller side (the Gaussian keeps sigma 1.5 and is only
  truncated to ``w`` taps);
* 32 or less: single-scale SSIM, window ``min(11, largest odd <= smaller side)``, clamped at zero as
  ``ms_ssim`` clamps its scales.  Planes 1 or 2 pixels thin get a 1-tap window: SSIM pixel by pixel.
"""

from __future__ import annotations

import numpy as np
import torch
from pytorch_msssim import ms_ssim, ssim

from cmfr_codec.io.frames import YuvFrame
from cmfr_codec.metrics.planes import check_same_size, weight_yuv

DATA_RANGE = 255.0
STANDARD_WINDOW = 11
WINDOW_SIGMA = 1.5
SCALES = 5
MIN_WINDOW = 3


def msssim_window(smaller_side: int) -> tuple[int, int]:
    """The ``(window, scales)`` used for a plane whose smaller side is ``smaller_side`` pixels.

    Five scales are kept as long as some window of at least 3 taps fits, because the scale
    weights are what make MS-SSIM comparable across planes; only below that does it fall back to
    one scale.  See the module docstring for the rule.
    """
    if smaller_side < 1:
        raise ValueError(f"a plane needs at least one pixel per side, got {smaller_side}")
    downsampling = 2 ** (SCALES - 1)
    if smaller_side > (STANDARD_WINDOW - 1) * downsampling:
        return STANDARD_WINDOW, SCALES
    if smaller_side > (MIN_WINDOW - 1) * downsampling:
        largest_span = (smaller_side - 1) // downsampling
        return largest_span - largest_span % 2 + 1, SCALES
    largest_odd = smaller_side if smaller_side % 2 else smaller_side - 1
    return min(STANDARD_WINDOW, largest_odd), 1


def _as_batch(planes: list[np.ndarray]) -> torch.Tensor:
    """Stack equally shaped uint8 planes into a float32 ``(N, 1, H, W)`` tensor of their 8-bit values."""
    return torch.from_numpy(np.stack(planes)).to(torch.float32).unsqueeze(1)


def _ms_ssim_batch(references: list[np.ndarray], decodeds: list[np.ndarray]) -> list[float]:
    """MS-SSIM (or its small-plane fallback) of each pair of equally shaped planes, in one call."""
    window, scales = msssim_window(min(references[0].shape))
    reference_batch, decoded_batch = _as_batch(references), _as_batch(decodeds)
    if window == 1:
        # pytorch-msssim squeezes away sides of length 1 and then rejects the tensor.  A 1-tap
        # window scores pixel by pixel, so tiling the plane 2x2 leaves the mean SSIM unchanged.
        reference_batch, decoded_batch = reference_batch.repeat(1, 1, 2, 2), decoded_batch.repeat(1, 1, 2, 2)
    with torch.no_grad():
        if scales == SCALES:
            values = ms_ssim(
                reference_batch,
                decoded_batch,
                data_range=DATA_RANGE,
                size_average=False,
                win_size=window,
                win_sigma=WINDOW_SIGMA,
            )
        else:
            values = ssim(
                reference_batch,
                decoded_batch,
                data_range=DATA_RANGE,
                size_average=False,
                win_size=window,
                win_sigma=WINDOW_SIGMA,
                nonnegative_ssim=True,
            )
    return [float(value) for value in values]


def ms_ssim_plane(reference: np.ndarray, decoded: np.ndarray) -> float:
    """MS-SSIM of one pair of 2-D uint8 planes, in [0, 1] (1 for identical planes)."""
    if reference.shape != decoded.shape:
        raise ValueError(f"cannot compare planes of shapes {reference.shape} and {decoded.shape}")
    return _ms_ssim_batch([reference], [decoded])[0]


def ms_ssim_planes(reference: YuvFrame, decoded: YuvFrame) -> tuple[float, float]:
    """MS-SSIM of the Y plane and the 6:1:1 weighted YUV MS-SSIM of two frames of the same size."""
    check_same_size(reference, decoded)
    (luma,) = _ms_ssim_batch([reference.y], [decoded.y])
    chroma_u, chroma_v = _ms_ssim_batch([reference.u, reference.v], [decoded.u, decoded.v])
    return luma, weight_yuv(luma, chroma_u, chroma_v)
