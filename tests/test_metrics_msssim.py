"""MS-SSIM through pytorch-msssim, its small-plane fallback, and the 6:1:1 YUV weighting."""

import math

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view
from pytorch_msssim import ms_ssim

from cmfr_codec.io.frames import YuvFrame
from cmfr_codec.metrics import ms_ssim_plane, ms_ssim_planes, msssim_window


def smooth_plane(height: int, width: int, seed: int) -> np.ndarray:
    """A plane with structure at several scales, so SSIM is neither trivially 0 nor 1."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:height, 0:width]
    pattern = 128 + 60 * np.sin(rows / 7.0) * np.cos(columns / 11.0) + rng.normal(0, 10, (height, width))
    return np.clip(pattern, 0, 255).astype(np.uint8)


def noisy(plane: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(plane + rng.normal(0, sigma, plane.shape), 0, 255).astype(np.uint8)


def frame_of(width: int, height: int, seed: int) -> YuvFrame:
    chroma_height, chroma_width = (height + 1) // 2, (width + 1) // 2
    return YuvFrame(
        y=smooth_plane(height, width, seed),
        u=smooth_plane(chroma_height, chroma_width, seed + 1),
        v=smooth_plane(chroma_height, chroma_width, seed + 2),
    )


def noisy_frame(frame: YuvFrame, sigma: float) -> YuvFrame:
    return YuvFrame(y=noisy(frame.y, sigma, 10), u=noisy(frame.u, sigma, 11), v=noisy(frame.v, sigma, 12))


def single_scale_ssim(a: np.ndarray, b: np.ndarray, window: int = 11, sigma: float = 1.5) -> float:
    """SSIM from its definition: 2-D Gaussian-weighted local statistics over valid windows, mean of the map."""
    offsets = np.arange(window) - window // 2
    gauss = np.exp(-(offsets**2) / (2 * sigma**2))
    kernel = np.outer(gauss, gauss) / np.outer(gauss, gauss).sum()

    def local_mean(image: np.ndarray) -> np.ndarray:
        return np.einsum("ijkl,kl->ij", sliding_window_view(image, (window, window)), kernel)

    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mean_x, mean_y = local_mean(x), local_mean(y)
    variance_x = local_mean(x * x) - mean_x**2
    variance_y = local_mean(y * y) - mean_y**2
    covariance = local_mean(x * y) - mean_x * mean_y
    ssim_map = ((2 * mean_x * mean_y + c1) * (2 * covariance + c2)) / (
        (mean_x**2 + mean_y**2 + c1) * (variance_x + variance_y + c2)
    )
    return float(ssim_map.mean())


@pytest.mark.parametrize(
    ("smaller_side", "window", "scales"),
    [
        (1080, 11, 5),
        (161, 11, 5),
        (160, 9, 5),
        (120, 7, 5),
        (49, 3, 5),
        (33, 3, 5),
        (32, 11, 1),
        (20, 11, 1),
        (10, 9, 1),
        (9, 9, 1),
        (2, 1, 1),
        (1, 1, 1),
    ],
)
def test_window_and_scales_follow_the_documented_rule(smaller_side, window, scales):
    assert msssim_window(smaller_side) == (window, scales)


def test_five_scale_windows_always_fit_pytorch_msssim_s_size_check():
    for smaller_side in range(33, 400):
        window, _ = msssim_window(smaller_side)
        assert window % 2 == 1
        assert (window - 1) * 16 < smaller_side


def test_identical_frames_score_one():
    frame = frame_of(176, 176, seed=1)
    assert ms_ssim_planes(frame, frame) == pytest.approx((1.0, 1.0), abs=1e-6)


def test_a_large_plane_gets_pytorch_msssim_s_standard_value():
    reference = smooth_plane(176, 176, seed=2)
    decoded = noisy(reference, 8, seed=3)
    direct = ms_ssim(
        torch.from_numpy(reference).float()[None, None],
        torch.from_numpy(decoded).float()[None, None],
        data_range=255,
    )
    assert ms_ssim_plane(reference, decoded) == pytest.approx(float(direct), abs=1e-6)


def test_more_noise_gives_a_lower_score():
    reference = frame_of(176, 176, seed=4)
    light, heavy = (
        ms_ssim_planes(reference, noisy_frame(reference, 4)),
        ms_ssim_planes(reference, noisy_frame(reference, 25)),
    )
    assert 1.0 > light[0] > heavy[0]
    assert 1.0 > light[1] > heavy[1]


def test_a_64x48_plane_uses_five_scales_with_a_three_tap_window():
    reference = smooth_plane(48, 64, seed=5)
    decoded = noisy(reference, 10, seed=6)
    score = ms_ssim_plane(reference, decoded)
    direct = ms_ssim(
        torch.from_numpy(reference).float()[None, None],
        torch.from_numpy(decoded).float()[None, None],
        data_range=255,
        win_size=3,
    )
    assert 0.0 <= score < 1.0
    assert score == pytest.approx(float(direct), abs=1e-6)


@pytest.mark.parametrize(("height", "width"), [(48, 64), (20, 20)])
def test_small_planes_score_one_when_identical(height, width):
    plane = smooth_plane(height, width, seed=7)
    assert ms_ssim_plane(plane, plane) == pytest.approx(1.0, abs=1e-6)


def test_a_20x20_plane_falls_back_to_single_scale_ssim():
    reference = smooth_plane(20, 20, seed=8)
    decoded = noisy(reference, 12, seed=9)
    assert ms_ssim_plane(reference, decoded) == pytest.approx(single_scale_ssim(reference, decoded), abs=1e-4)


def test_a_plane_narrower_than_the_window_uses_the_largest_odd_window_that_fits():
    reference = smooth_plane(30, 8, seed=10)
    decoded = noisy(reference, 12, seed=11)
    expected = single_scale_ssim(reference, decoded, window=7)
    assert ms_ssim_plane(reference, decoded) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(("height", "width"), [(1, 9), (2, 6)])
def test_a_plane_one_or_two_pixels_thin_is_scored_pixel_by_pixel(height, width):
    reference = smooth_plane(height, width, seed=17)
    decoded = noisy(reference, 30, seed=18)
    expected = single_scale_ssim(reference, decoded, window=1)
    assert ms_ssim_plane(reference, decoded) == pytest.approx(expected, abs=1e-4)


def test_yuv_score_weights_luma_six_times_each_chroma_plane():
    reference = frame_of(40, 32, seed=12)
    decoded = noisy_frame(reference, 15)
    luma = single_scale_ssim(reference.y, decoded.y)
    chroma_u = single_scale_ssim(reference.u, decoded.u)
    chroma_v = single_scale_ssim(reference.v, decoded.v)
    assert ms_ssim_planes(reference, decoded) == pytest.approx(
        (luma, (6 * luma + chroma_u + chroma_v) / 8), abs=1e-4
    )


def test_heavily_distorted_small_planes_stay_within_zero_and_one():
    rng = np.random.default_rng(13)
    reference = rng.integers(0, 256, (20, 20), dtype=np.uint8)
    assert ms_ssim_plane(reference, 255 - reference) == 0.0


@pytest.mark.parametrize(("width", "height"), [(33, 17), (3, 5), (1, 1), (417, 241)])
def test_odd_sized_frames_give_finite_scores_in_range(width, height):
    reference = frame_of(width, height, seed=14)
    luma, yuv = ms_ssim_planes(reference, noisy_frame(reference, 10))
    for value in (luma, yuv):
        assert math.isfinite(value)
        assert 0.0 <= value <= 1.0


def test_frames_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match=r"40x32.*32x40"):
        ms_ssim_planes(frame_of(40, 32, seed=15), frame_of(32, 40, seed=16))
