"""Every metric of one frame pair, and a streaming accumulator for a whole sequence."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from cmfr_codec.io.frames import YuvFrame
from cmfr_codec.metrics.msssim import ms_ssim_planes
from cmfr_codec.metrics.psnr import plane_mses, psnr_from_plane_mses, psnr_rgb


@dataclass(frozen=True)
class FrameScores:
    """Quality of one decoded frame (or a sequence mean): PSNR in dB, MS-SSIM in [0, 1].

    MS-SSIM fields are ``nan`` when it was not computed (``msssim=False``).
    """

    psnr_y: float
    psnr_u: float
    psnr_v: float
    psnr_yuv: float
    psnr_rgb: float
    msssim_y: float
    msssim_yuv: float


def _score_with_mses(
    reference: YuvFrame, decoded: YuvFrame, msssim: bool
) -> tuple[FrameScores, tuple[float, float, float]]:
    """The frame's scores together with its plane MSEs, which the sequence keeps for PSNR-of-mean-MSE."""
    mses = plane_mses(reference, decoded)
    psnr_y, psnr_u, psnr_v, psnr_yuv = psnr_from_plane_mses(mses)
    msssim_y, msssim_yuv = ms_ssim_planes(reference, decoded) if msssim else (math.nan, math.nan)
    scores = FrameScores(
        psnr_y=psnr_y,
        psnr_u=psnr_u,
        psnr_v=psnr_v,
        psnr_yuv=psnr_yuv,
        psnr_rgb=psnr_rgb(reference, decoded),
        msssim_y=msssim_y,
        msssim_yuv=msssim_yuv,
    )
    return scores, mses


def score_frame(reference: YuvFrame, decoded: YuvFrame, *, msssim: bool = True) -> FrameScores:
    """All metrics of one frame pair; ``msssim=False`` skips the costly MS-SSIM (fields become ``nan``)."""
    return _score_with_mses(reference, decoded, msssim)[0]


class SequenceScores:
    """Scores a sequence one frame pair at a time, so no more than one pair need be held in memory.

    ``frames`` keeps every frame's scores in order; :meth:`mean` is the sequence summary.
    """

    def __init__(self, *, msssim: bool = True) -> None:
        self.msssim = msssim
        self.frames: list[FrameScores] = []
        self._mse_sums = [0.0, 0.0, 0.0]

    def add(self, reference: YuvFrame, decoded: YuvFrame) -> FrameScores:
        """Score the next frame pair, remember it, and return its scores."""
        scores, mses = _score_with_mses(reference, decoded, self.msssim)
        self.frames.append(scores)
        self._mse_sums = [total + mse for total, mse in zip(self._mse_sums, mses, strict=True)]
        return scores

    def mean(self) -> FrameScores:
        """Arithmetic mean of each per-frame field (the DCVC and CompressAI convention).

        Per-frame PSNR is capped at 100 dB before averaging, so the mean is always finite.
        """
        self._require_frames()
        count = len(self.frames)
        return FrameScores(
            **{
                field.name: math.fsum(getattr(frame, field.name) for frame in self.frames) / count
                for field in fields(FrameScores)
            }
        )

    def psnr_of_mean_mse(self) -> tuple[float, float, float, float]:
        """Y, U, V and 6:1:1 YUV PSNR of the MSE averaged over all frames (ffmpeg's ``psnr`` average).

        Unlike :meth:`mean`, this weights every sample's error equally, so a few near-perfect
        frames lift it far less; it is offered for comparison with tools that report it.
        """
        self._require_frames()
        count = len(self.frames)
        y, u, v = (total / count for total in self._mse_sums)
        return psnr_from_plane_mses((y, u, v))

    def _require_frames(self) -> None:
        if not self.frames:
            raise ValueError("no frames have been scored yet")
