"""The PyAV baselines code low delay: frames in display order, I-frames exactly every intra period."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from clips import example_frames

from cmfr_codec.evaluation.baselines import BASELINES, DecodeClock, decode_packets, encode_frames
from cmfr_codec.io.frames import YuvFrame
from cmfr_codec.metrics import psnr_planes

RATE_POINT = {"x264": 23, "x265": 23, "svtav1": 30}


def _distinct_frames(count: int, width: int, height: int) -> list[YuvFrame]:
    """Real content whose brightness steps by 40 per frame, so a frame out of order cannot go unnoticed."""
    base = example_frames(1, width, height)[0]
    return [
        YuvFrame((base.y // 4 + 40 * number).astype(np.uint8), base.u, base.v)  # at most 63 + 160
        for number in range(count)
    ]


def _code(name: str, frames: list[YuvFrame], intra_period: int):
    baseline = BASELINES[name]
    options = baseline.options(RATE_POINT[name], intra_period, "8" if name == "svtav1" else "medium", "crf")
    width, height = frames[0].width, frames[0].height
    coded = encode_frames(baseline, options, frames, width, height, Fraction(25))
    decoded = list(decode_packets(baseline, coded.packets, width, height, DecodeClock()))
    return coded, decoded


@pytest.mark.parametrize("name", ["x264", "x265", "svtav1"])
def test_one_packet_per_frame_in_display_order_with_periodic_intra_frames(name):
    frames = _distinct_frames(5, 64, 48)
    coded, decoded = _code(name, frames, intra_period=2)
    assert coded.keyframes == [True, False, True, False, True]
    assert len(decoded) == len(frames)
    for source, frame in zip(frames, decoded, strict=True):
        assert abs(float(frame.y.mean()) - float(source.y.mean())) < 5
        assert psnr_planes(source, frame)[3] > 30


@pytest.mark.parametrize("name", ["x264", "x265", "svtav1"])
def test_intra_period_zero_codes_only_the_first_frame_as_intra(name):
    coded, _ = _code(name, _distinct_frames(4, 64, 48), intra_period=0)
    assert coded.keyframes == [True, False, False, False]


@pytest.mark.parametrize("name", ["x264", "x265"])
def test_odd_sizes_are_padded_for_the_encoder_and_cropped_back(name):
    frames = example_frames(2, 63, 47)
    coded, decoded = _code(name, frames, intra_period=2)
    assert [(frame.width, frame.height) for frame in decoded] == [(63, 47), (63, 47)]
    assert all(psnr_planes(source, frame)[3] > 30 for source, frame in zip(frames, decoded, strict=True))
    assert coded.coded_bytes == sum(len(packet) for packet in coded.packets)


def test_the_encoders_text_about_themselves_is_not_counted_and_decodes_nothing():
    frames = example_frames(3, 64, 48)
    x264 = BASELINES["x264"]
    options = x264.options(27, 2, "medium", "crf")
    counted = encode_frames(x264, options, frames, 64, 48, Fraction(25))
    everything = encode_frames(replace(x264, drops_user_data_sei=False), options, frames, 64, 48, Fraction(25))
    assert b"x264 - core" in everything.packets[0]
    assert not any(b"x264 - core" in packet for packet in counted.packets)
    assert counted.packets[1:] == everything.packets[1:]
    assert 0 < everything.coded_bytes - counted.coded_bytes < len(everything.packets[0])

    def decoded(coded):
        return [frame.planes() for frame in decode_packets(x264, coded.packets, 64, 48, DecodeClock())]

    assert all(np.array_equal(a, b) for planes_a, planes_b in zip(decoded(counted), decoded(everything), strict=True)
               for a, b in zip(planes_a, planes_b, strict=True))
    x265 = BASELINES["x265"]
    coded = encode_frames(x265, x265.options(27, 2, "medium", "crf"), frames, 64, 48, Fraction(25))
    assert not any(b"x265 (build" in packet for packet in coded.packets)
