"""Scoring one frame pair with every metric, and streaming a sequence through the accumulator."""

import math

import numpy as np
import pytest

from cmfr_codec.io.frames import YuvFrame
from cmfr_codec.metrics import FrameScores, SequenceScores, score_frame


def random_frame(width: int, height: int, seed: int) -> YuvFrame:
    rng = np.random.default_rng(seed)
    chroma = ((height + 1) // 2, (width + 1) // 2)
    return YuvFrame(
        y=rng.integers(0, 200, (height, width), dtype=np.uint8),
        u=rng.integers(0, 200, chroma, dtype=np.uint8),
        v=rng.integers(0, 200, chroma, dtype=np.uint8),
    )


def offset_frame(frame: YuvFrame, d: int) -> YuvFrame:
    return YuvFrame(y=frame.y + np.uint8(d), u=frame.u + np.uint8(d), v=frame.v + np.uint8(d))


def psnr_of_offset(d: int) -> float:
    return 20 * math.log10(255 / d)


def test_score_frame_fills_every_field_for_an_odd_sized_frame():
    reference = random_frame(33, 17, seed=1)
    scores = score_frame(reference, offset_frame(reference, 3))
    assert (scores.psnr_y, scores.psnr_u, scores.psnr_v, scores.psnr_yuv) == pytest.approx(
        [psnr_of_offset(3)] * 4
    )
    assert 0 < scores.psnr_rgb < 100
    assert 0 <= scores.msssim_y <= 1
    assert 0 <= scores.msssim_yuv <= 1


def test_skipping_msssim_leaves_its_fields_nan():
    reference = random_frame(8, 8, seed=2)
    scores = score_frame(reference, offset_frame(reference, 1), msssim=False)
    assert math.isnan(scores.msssim_y)
    assert math.isnan(scores.msssim_yuv)
    assert scores.psnr_y == pytest.approx(psnr_of_offset(1))


def test_add_returns_the_frame_s_scores_and_keeps_them_in_order():
    sequence = SequenceScores()
    reference = random_frame(16, 12, seed=3)
    first = sequence.add(reference, offset_frame(reference, 1))
    second = sequence.add(reference, offset_frame(reference, 2))
    assert sequence.frames == [first, second]
    assert first.psnr_y == pytest.approx(psnr_of_offset(1))
    assert second.psnr_y == pytest.approx(psnr_of_offset(2))


def test_mean_is_the_arithmetic_mean_of_each_field():
    sequence = SequenceScores(msssim=False)
    reference = random_frame(16, 12, seed=4)
    sequence.add(reference, offset_frame(reference, 1))
    sequence.add(reference, offset_frame(reference, 4))
    mean = sequence.mean()
    expected_psnr = (psnr_of_offset(1) + psnr_of_offset(4)) / 2
    assert (mean.psnr_y, mean.psnr_u, mean.psnr_v, mean.psnr_yuv) == pytest.approx([expected_psnr] * 4)
    assert mean.psnr_rgb == pytest.approx((sequence.frames[0].psnr_rgb + sequence.frames[1].psnr_rgb) / 2)
    assert math.isnan(mean.msssim_y)


def test_a_perfect_frame_counts_as_the_cap_in_the_mean():
    sequence = SequenceScores(msssim=False)
    reference = random_frame(16, 12, seed=5)
    sequence.add(reference, reference)
    sequence.add(reference, offset_frame(reference, 1))
    assert sequence.mean().psnr_y == pytest.approx((100 + psnr_of_offset(1)) / 2)


def test_psnr_of_mean_mse_averages_the_errors_before_the_logarithm():
    sequence = SequenceScores(msssim=False)
    reference = random_frame(16, 12, seed=6)
    sequence.add(reference, offset_frame(reference, 1))
    sequence.add(reference, offset_frame(reference, 4))
    expected = 10 * math.log10(255**2 / ((1 + 16) / 2))
    assert sequence.psnr_of_mean_mse() == pytest.approx([expected] * 4)


def test_an_empty_sequence_has_no_mean():
    with pytest.raises(ValueError, match="no frames"):
        SequenceScores().mean()


def test_a_mismatched_pair_is_refused_and_not_recorded():
    sequence = SequenceScores()
    with pytest.raises(ValueError, match=r"16x12.*12x16"):
        sequence.add(random_frame(16, 12, seed=7), random_frame(12, 16, seed=8))
    assert sequence.frames == []


def test_frame_scores_is_immutable():
    scores = FrameScores(1.0, 2.0, 3.0, 4.0, 5.0, 0.5, 0.6)
    with pytest.raises(AttributeError):
        scores.psnr_y = 0.0
