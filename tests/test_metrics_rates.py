"""Bits per pixel and kilobits per second from file sizes, in closed form."""

from fractions import Fraction

import pytest

from cmfr_codec.metrics import bits_per_pixel, kilobits_per_second


def test_bits_per_pixel_counts_every_file_bit_over_every_luma_pixel():
    assert bits_per_pixel(12_480, 416, 240, 10) == pytest.approx(12_480 * 8 / 998_400)


def test_one_byte_per_pixel_is_eight_bits_per_pixel():
    assert bits_per_pixel(33 * 17 * 3, 33, 17, 3) == 8.0


def test_kilobits_per_second_divides_file_bits_by_the_duration():
    assert kilobits_per_second(1000, 30, Fraction(30)) == 8.0


def test_kilobits_per_second_handles_ntsc_frame_rates_exactly():
    # 3000 frames at 30000/1001 fps last 100.1 s; 1,251,250 bytes are 10,010,000 bits.
    assert kilobits_per_second(1_251_250, 3000, Fraction(30000, 1001)) == 100.0


@pytest.mark.parametrize(("width", "height", "frames"), [(0, 240, 1), (416, 0, 1), (416, 240, 0)])
def test_bits_per_pixel_refuses_empty_video(width, height, frames):
    with pytest.raises(ValueError):
        bits_per_pixel(100, width, height, frames)


@pytest.mark.parametrize(("frames", "fps"), [(0, Fraction(25)), (10, Fraction(0))])
def test_kilobits_per_second_refuses_a_zero_duration(frames, fps):
    with pytest.raises(ValueError):
        kilobits_per_second(100, frames, fps)
