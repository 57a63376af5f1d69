"""PSNR per plane and over YUV: checked against numpy written out here and closed-form cases."""

import math

import numpy as np
import pytest

from cmfr_codec.io.frames import YuvFrame
from cmfr_codec.metrics import PSNR_CAP_DB, psnr_planes


def random_frame(width: int, height: int, seed: int, high: int = 256) -> YuvFrame:
    rng = np.random.default_rng(seed)
    chroma = ((height + 1) // 2, (width + 1) // 2)
    return YuvFrame(
        y=rng.integers(0, high, (height, width), dtype=np.uint8),
        u=rng.integers(0, high, chroma, dtype=np.uint8),
        v=rng.integers(0, high, chroma, dtype=np.uint8),
    )


def offset_frame(frame: YuvFrame, y: int, u: int, v: int) -> YuvFrame:
    return YuvFrame(y=frame.y + np.uint8(y), u=frame.u + np.uint8(u), v=frame.v + np.uint8(v))


def test_plane_psnr_matches_the_textbook_formula_on_an_odd_sized_frame():
    reference, decoded = random_frame(33, 17, seed=1), random_frame(33, 17, seed=2)
    expected = []
    for a, b in zip(reference.planes(), decoded.planes(), strict=True):
        squared_error_sum = int(((a.astype(np.int64) - b.astype(np.int64)) ** 2).sum())
        expected.append(10 * math.log10(255**2 * a.size / squared_error_sum))
    y, u, v, _ = psnr_planes(reference, decoded)
    assert (y, u, v) == pytest.approx(expected, abs=1e-9)


def test_a_constant_offset_of_d_gives_twenty_log_of_peak_over_d():
    reference = random_frame(16, 8, seed=3, high=200)
    d = 5
    assert psnr_planes(reference, offset_frame(reference, d, d, d)) == pytest.approx(
        [10 * math.log10(255**2 / d**2)] * 4, abs=1e-9
    )


def test_identical_frames_score_the_cap_on_every_plane():
    frame = random_frame(10, 6, seed=4)
    assert psnr_planes(frame, frame) == (PSNR_CAP_DB,) * 4
    assert PSNR_CAP_DB == 100.0


def test_a_tiny_but_nonzero_error_is_capped_too():
    reference = YuvFrame(
        y=np.zeros((1000, 1000), np.uint8), u=np.zeros((500, 500), np.uint8), v=np.zeros((500, 500), np.uint8)
    )
    decoded_luma = reference.y.copy()
    decoded_luma[0, 0] = 1
    decoded = YuvFrame(y=decoded_luma, u=reference.u, v=reference.v)
    uncapped = 10 * math.log10(255**2 * 1_000_000)
    assert uncapped > 100
    assert psnr_planes(reference, decoded)[0] == 100.0


def test_psnr_yuv_weights_luma_six_times_each_chroma_plane():
    reference = random_frame(12, 10, seed=5, high=200)
    psnr_of_offset = {d: 20 * math.log10(255 / d) for d in (1, 2, 4)}
    y, u, v, yuv = psnr_planes(reference, offset_frame(reference, 1, 2, 4))
    assert (y, u, v) == pytest.approx([psnr_of_offset[1], psnr_of_offset[2], psnr_of_offset[4]])
    assert yuv == pytest.approx((6 * psnr_of_offset[1] + psnr_of_offset[2] + psnr_of_offset[4]) / 8)


def test_frames_of_different_sizes_are_refused_naming_both_sizes():
    with pytest.raises(ValueError, match=r"8x6.*6x8"):
        psnr_planes(random_frame(8, 6, seed=6), random_frame(6, 8, seed=7))
