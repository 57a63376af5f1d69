"""BD-rate: the bjontegaard package's numbers, per sequence and on class-average curves, labelled."""

from __future__ import annotations

import pytest

from cmfr_codec.evaluation.bdrate import bd_psnr, bd_rate, bd_rate_tables, class_average_points

ANCHOR = [(0.1, 30.0), (0.2, 33.0), (0.4, 36.0), (0.8, 39.0)]


def _scaled(curve, factor):
    return [(rate * factor, quality) for rate, quality in curve]


@pytest.mark.parametrize("method", ["pchip", "cubic", "akima"])
def test_half_the_rate_at_every_quality_is_minus_50_percent(method):
    value, reason = bd_rate(ANCHOR, _scaled(ANCHOR, 0.5), method)
    assert reason is None
    assert value == pytest.approx(-50.0, abs=1e-9)


def test_a_curve_against_itself_is_zero():
    assert bd_rate(ANCHOR, ANCHOR) == (pytest.approx(0.0, abs=1e-12), None)


def test_points_in_any_order_give_the_same_value():
    value, _ = bd_rate(ANCHOR[::-1], _scaled(ANCHOR, 1.25)[::-1])
    assert value == pytest.approx(25.0, abs=1e-9)


def test_curves_without_common_quality_have_no_value_and_say_why():
    value, reason = bd_rate(ANCHOR, [(1.0, 50.0), (2.0, 60.0)])
    assert value is None
    assert "no common quality" in reason


def test_cubic_fit_refuses_fewer_than_four_points():
    value, reason = bd_rate(ANCHOR, _scaled(ANCHOR, 0.5)[:3], "cubic")
    assert value is None
    assert "4 points" in reason


def _entries(class_name, sequence, codec, curve, quality_points=(22, 27, 32, 37)):
    return [
        {"class": class_name, "sequence": sequence, "codec": codec, "quality": point, "quality_kind": "crf",
         "bpp": rate, "kbps": rate * 100, "psnr_yuv": quality, "encode_fps": 10.0, "decode_fps": 20.0}
        for point, (rate, quality) in zip(quality_points, curve, strict=True)
    ]


def test_class_figures_are_the_average_curve_and_the_mean_of_sequences():
    # Sequence A: the test codec needs half the bits; sequence B: the same bits, at rates 10x higher.
    entries = (
        _entries("C", "A", "x264", ANCHOR) + _entries("C", "A", "cmfr", _scaled(ANCHOR, 0.5))
        + _entries("C", "B", "x264", _scaled(ANCHOR, 10)) + _entries("C", "B", "cmfr", _scaled(ANCHOR, 10))
    )
    tables = bd_rate_tables(entries, "x264", "pchip", ("psnr_yuv",))
    per_sequence = {row["sequence"]: row["bd_rate"]["psnr_yuv"] for row in tables["per_sequence"]}
    assert per_sequence == {"A": pytest.approx(-50.0), "B": pytest.approx(0.0, abs=1e-9)}
    (row,) = tables["per_class"]
    assert row["sequences"] == 2
    assert row["mean_of_sequences"]["psnr_yuv"] == pytest.approx(-25.0)
    # The class-average curve is dominated by sequence B's larger rates: (0.5 + 10) / 2 against (1 + 10) / 2.
    assert row["class_curve"]["psnr_yuv"] == pytest.approx((5.25 / 5.5 - 1) * 100)
    point = next(point for point in class_average_points(entries, ("psnr_yuv",))
                 if point["codec"] == "cmfr" and point["quality"] == 22)
    assert point["bpp"] == pytest.approx((0.05 + 1.0) / 2)
    assert point["sequences"] == 2


def test_the_anchor_has_no_bd_rate_row():
    entries = _entries("C", "A", "x264", ANCHOR) + _entries("C", "A", "x265", _scaled(ANCHOR, 0.8))
    tables = bd_rate_tables(entries, "x264", "pchip", ("psnr_yuv",))
    assert [row["codec"] for row in tables["per_sequence"]] == ["x265"]
    assert [row["codec"] for row in tables["per_class"]] == ["x265"]


def test_bd_psnr_is_the_mean_quality_gain_over_the_common_rate_range():
    anchor = [(0.1, 30.0), (0.2, 33.0), (0.4, 36.0), (0.8, 39.0)]
    assert bd_psnr(anchor, [(rate, quality + 1.0) for rate, quality in anchor])[0] == pytest.approx(1.0)
    far_above = [(rate * 1.5, quality + 20.0) for rate, quality in anchor]
    assert bd_rate(anchor, far_above) == (None, "the curves cover no common quality range")
    assert bd_psnr(anchor, far_above)[0] > 15
    assert bd_psnr(anchor, [(rate * 10, quality) for rate, quality in anchor]) == (
        None, "the curves cover no common rate range")
    assert bd_psnr(anchor, [(0.1, 30.0), (0.1, 31.0)])[1] == "the codec has two points of equal rate"


def test_rate_points_that_coded_the_same_stream_count_once_and_different_ones_of_equal_quality_are_refused():
    # cmfr's qualities 42 and 63 of a single I-frame both code it at 63 under the quality hierarchy
    repeated = [*_scaled(ANCHOR, 0.5), _scaled(ANCHOR, 0.5)[-1]]
    assert bd_rate(ANCHOR, repeated) == (pytest.approx(-50.0, abs=1e-9), None)
    assert bd_rate([*ANCHOR, ANCHOR[0]], ANCHOR) == (pytest.approx(0.0, abs=1e-12), None)
    assert bd_rate(ANCHOR, [(0.1, 30.0), (0.2, 30.0)]) == (None, "the codec has two points of equal quality")
