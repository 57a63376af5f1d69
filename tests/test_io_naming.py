"""Sizes and rates from the command line and from the usual test-sequence file names."""

from fractions import Fraction

import pytest

from cmfr_codec.errors import InputError
from cmfr_codec.io import parse_fps, parse_size, size_and_rate_from_name
from cmfr_codec.io.naming import unsupported_format_in_name


def test_parse_size_reads_width_by_height():
    assert parse_size("1920x1080") == (1920, 1080)
    assert parse_size("417X241") == (417, 241)


@pytest.mark.parametrize("text", ["", "1920", "1920x", "x1080", "1920*1080", "axb", "-16x16", "1920x1080x3"])
def test_parse_size_refuses_text_that_is_not_a_size(text):
    with pytest.raises(InputError, match="WIDTHxHEIGHT"):
        parse_size(text)


@pytest.mark.parametrize("text", ["0x1080", "1920x0", "16385x16"])
def test_parse_size_refuses_dimensions_out_of_range(text):
    with pytest.raises(InputError, match="out of range"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "rate"),
    [("25", Fraction(25)), ("29.97", Fraction(2997, 100)), ("30000/1001", Fraction(30000, 1001))],
)
def test_parse_fps_is_exact(text, rate):
    assert parse_fps(text) == rate


@pytest.mark.parametrize("text", ["", "fast", "25fps", "1/0", "nan", "inf"])
def test_parse_fps_refuses_junk(text):
    with pytest.raises(InputError, match="invalid frame rate"):
        parse_fps(text)


@pytest.mark.parametrize("text", ["0", "-25", "0/1001"])
def test_parse_fps_refuses_rates_that_are_not_positive(text):
    with pytest.raises(InputError, match="greater than 0"):
        parse_fps(text)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BasketballDrive_1920x1080_50.yuv", (1920, 1080, Fraction(50))),
        ("Beauty_1920x1080_50fps_8bit_420.yuv", (1920, 1080, Fraction(50))),
        ("/data/hevc/RaceHorses_416x240_30.yuv", (416, 240, Fraction(30))),
        ("clip_1280x720_29.97.yuv", (1280, 720, Fraction(2997, 100))),
        ("akiyo_352x288.yuv", (352, 288, None)),
        ("Kimono_1920x1080_24_8bit.yuv", (1920, 1080, Fraction(24))),
    ],
)
def test_size_and_rate_come_from_the_usual_names(name, expected):
    assert size_and_rate_from_name(name) == expected


@pytest.mark.parametrize(
    "name", ["foreman_cif.yuv", "clip.yuv", "take1920.yuv", "v2x3y.yuv", "big_99999x1080.yuv"]
)
def test_names_without_a_usable_size_give_none(name):
    assert size_and_rate_from_name(name) is None


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("Beauty_1920x1080_120fps_420_10bit_YUV.yuv", "10bit"),
        ("clip_1920x1080_50_yuv444p.yuv", "yuv444p"),
        ("clip_422_1920x1080.yuv", "422"),
    ],
)
def test_names_that_announce_another_sample_format_are_recognised(name, hint):
    assert unsupported_format_in_name(name) == hint


@pytest.mark.parametrize(
    "name", ["Beauty_1920x1080_50fps_8bit_420.yuv", "clip_1920x1080_422.yuv", "clip.yuv"]
)
def test_names_of_8bit_420_files_announce_nothing(name):
    assert unsupported_format_in_name(name) is None
