"""Peak signal-to-noise ratio of 8-bit planes, per plane, weighted over YUV, and over RGB."""

from __future__ import annotations

import math

import numpy as np

from cmfr_codec.io.frames import YuvFrame
from cmfr_codec.metrics.colour import yuv420_to_rgb709
from cmfr_codec.metrics.planes import check_same_size, weight_yuv

PEAK = 255.0
PSNR_CAP_DB = 100.0


def mean_squared_error(reference: np.ndarray, decoded: np.ndarray) -> float:
    """MSE over every sample of two equally shaped arrays, in float64 so no sum can overflow."""
    difference = reference.astype(np.float64) - decoded.astype(np.float64)
    return float(np.mean(difference * difference))


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for peak 255, capped at :data:`PSNR_CAP_DB`.

    Identical planes have zero MSE and an infinite PSNR; the cap keeps per-frame values finite so
    that sequence averages stay meaningful (one perfect frame would otherwise make the mean infinite).
    """
    if mse <= 0.0:
        return PSNR_CAP_DB
    return min(PSNR_CAP_DB, 10.0 * math.log10(PEAK * PEAK / mse))


def plane_mses(reference: YuvFrame, decoded: YuvFrame) -> tuple[float, float, float]:
    """MSE of the Y, U and V planes of two frames of the same size."""
    check_same_size(reference, decoded)
    y, u, v = (
        mean_squared_error(reference_plane, decoded_plane)
        for reference_plane, decoded_plane in zip(reference.planes(), decoded.planes(), strict=True)
    )
    return y, u, v


def psnr_from_plane_mses(mses: tuple[float, float, float]) -> tuple[float, float, float, float]:
    """Y, U, V PSNR and their 6:1:1 weighted average (PSNR-YUV) from the three plane MSEs."""
    y, u, v = (psnr_from_mse(mse) for mse in mses)
    return y, u, v, weight_yuv(y, u, v)


def psnr_planes(reference: YuvFrame, decoded: YuvFrame) -> tuple[float, float, float, float]:
    """PSNR of Y, U, V and PSNR-YUV = (6 Y + U + V) / 8, each in dB and capped at 100 dB."""
    return psnr_from_plane_mses(plane_mses(reference, decoded))


def psnr_rgb(reference: YuvFrame, decoded: YuvFrame) -> float:
    """PSNR of the displayed 8-bit BT.709 RGB pictures, one MSE over R, G and B together."""
    check_same_size(reference, decoded)
    return psnr_from_mse(mean_squared_error(yuv420_to_rgb709(reference), yuv420_to_rgb709(decoded)))
