"""Quality and rate metrics for decoded video: PSNR, PSNR-RGB, MS-SSIM, bpp and kbps.

Every metric compares 8-bit frames at their original size with peak 255; see ``docs/metrics.md``
for the definitions and conventions.
"""

from cmfr_codec.metrics.colour import yuv420_to_rgb709
from cmfr_codec.metrics.msssim import ms_ssim_plane, ms_ssim_planes, msssim_window
from cmfr_codec.metrics.psnr import PSNR_CAP_DB, psnr_planes, psnr_rgb
from cmfr_codec.metrics.rates import bits_per_pixel, kilobits_per_second
from cmfr_codec.metrics.scores import FrameScores, SequenceScores, score_frame

__all__ = [
    "PSNR_CAP_DB",
    "FrameScores",
    "SequenceScores",
    "bits_per_pixel",
    "kilobits_per_second",
    "ms_ssim_plane",
    "ms_ssim_planes",
    "msssim_window",
    "psnr_planes",
    "psnr_rgb",
    "score_frame",
    "yuv420_to_rgb709",
]
