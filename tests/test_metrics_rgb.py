"""BT.709 limited-range conversion to RGB and PSNR-RGB, against a conversion written out here."""

import math

import numpy as np
import pytest

from cmfr_codec.io.frames import YuvFrame
from cmfr_codec.metrics import PSNR_CAP_DB, psnr_rgb, yuv420_to_rgb709


def uniform_frame(y: int, u: int, v: int, width: int = 4, height: int = 2) -> YuvFrame:
    chroma = ((height + 1) // 2, (width + 1) // 2)
    return YuvFrame(
        y=np.full((height, width), y, np.uint8),
        u=np.full(chroma, u, np.uint8),
        v=np.full(chroma, v, np.uint8),
    )


def random_frame(width: int, height: int, seed: int) -> YuvFrame:
    rng = np.random.default_rng(seed)
    chroma = ((height + 1) // 2, (width + 1) // 2)
    return YuvFrame(
        y=rng.integers(0, 256, (height, width), dtype=np.uint8),
        u=rng.integers(0, 256, chroma, dtype=np.uint8),
        v=rng.integers(0, 256, chroma, dtype=np.uint8),
    )


def reference_conversion(frame: YuvFrame) -> np.ndarray:
    """Pixel by pixel: invert the BT.709 RGB -> (Y', Pb, Pr) matrix and scale limited-range codes."""
    kr, kb = 0.2126, 0.0722
    kg = 1 - kr - kb
    rgb_to_ypbpr = np.array(
        [
            [kr, kg, kb],
            [-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), (1 - kb) / (2 * (1 - kb))],
            [(1 - kr) / (2 * (1 - kr)), -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))],
        ]
    )
    ypbpr_to_rgb = np.linalg.inv(rgb_to_ypbpr)
    rgb = np.zeros((frame.height, frame.width, 3), np.uint8)
    for row in range(frame.height):
        for column in range(frame.width):
            ypbpr = np.array(
                [
                    (int(frame.y[row, column]) - 16) / 219,
                    (int(frame.u[row // 2, column // 2]) - 128) / 224,
                    (int(frame.v[row // 2, column // 2]) - 128) / 224,
                ]
            )
            for channel, value in enumerate(ypbpr_to_rgb @ ypbpr * 255):
                rgb[row, column, channel] = min(255, max(0, math.floor(value + 0.5)))
    return rgb


def test_limited_range_white_is_full_white():
    assert (yuv420_to_rgb709(uniform_frame(235, 128, 128)) == 255).all()


def test_limited_range_black_is_full_black():
    assert (yuv420_to_rgb709(uniform_frame(16, 128, 128)) == 0).all()


def test_bt709_red_comes_back_as_red():
    # BT.709 limited-range red: Y = 16 + 219 * 0.2126, Cb = 128 - 112 * 0.2126 / 0.9278, Cr = 240.
    rgb = yuv420_to_rgb709(uniform_frame(63, 102, 240))
    assert np.abs(rgb.astype(int) - [255, 0, 0]).max() <= 1


def test_output_is_height_by_width_by_three_uint8():
    rgb = yuv420_to_rgb709(random_frame(33, 17, seed=1))
    assert rgb.shape == (17, 33, 3)
    assert rgb.dtype == np.uint8


def test_conversion_matches_a_per_pixel_matrix_inverse_on_an_odd_sized_frame():
    frame = random_frame(33, 17, seed=2)
    np.testing.assert_array_equal(yuv420_to_rgb709(frame), reference_conversion(frame))


def test_psnr_rgb_is_one_mse_over_all_three_channels():
    reference, decoded = random_frame(9, 7, seed=3), random_frame(9, 7, seed=4)
    difference = reference_conversion(reference).astype(float) - reference_conversion(decoded)
    expected = 10 * math.log10(255**2 / np.mean(difference**2))
    assert psnr_rgb(reference, decoded) == pytest.approx(expected, abs=1e-9)


def test_psnr_rgb_of_identical_frames_is_the_cap():
    frame = random_frame(9, 7, seed=5)
    assert psnr_rgb(frame, frame) == PSNR_CAP_DB


def test_psnr_rgb_refuses_frames_of_different_sizes():
    with pytest.raises(ValueError, match=r"9x7.*7x9"):
        psnr_rgb(random_frame(9, 7, seed=6), random_frame(7, 9, seed=7))
