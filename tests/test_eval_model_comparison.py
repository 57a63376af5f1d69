"""Two models' RD points from cmfr eval reports, and the BD-rate that judges one against the other."""

from __future__ import annotations

import pytest

from cmfr_codec.evaluation.model_comparison import (
    anchored_table,
    anchored_verdict,
    compare,
    compare_through_anchor,
    rd_points,
    table,
    verdict,
)


def report(rates: list[float], psnrs: list[float]) -> dict:
    """A cmfr eval report of one clip at the four anchors, with one I-frame and one P-frame per entry."""
    results = []
    for quality, bpp, psnr in zip((0, 21, 42, 63), rates, psnrs, strict=True):
        per_frame = [{"type": "I", "bpp": 3 * bpp, "psnr_yuv": psnr + 1}, {"type": "P", "bpp": bpp / 3, "psnr_yuv": psnr - 1}]
        results.append({"sequence": "clip", "quality": quality, "bpp": bpp, "psnr_yuv": psnr, "per_frame": per_frame})
    return {"results": results}


def test_rd_points_read_the_sequence_means_or_one_frame_type():
    points = rd_points(report([0.1, 0.2, 0.4, 0.8], [30, 32, 34, 36]))
    assert points == {"clip": {0: (0.1, 30), 21: (0.2, 32), 42: (0.4, 34), 63: (0.8, 36)}}
    assert rd_points(report([0.1, 0.2, 0.4, 0.8], [30, 32, 34, 36]), "P")["clip"][0] == pytest.approx((0.1 / 3, 29))


def test_a_candidate_needing_fewer_bits_for_the_same_quality_has_a_negative_bd_rate():
    baseline = rd_points(report([0.1, 0.2, 0.4, 0.8], [30, 32, 34, 36]))
    candidate = rd_points(report([0.08, 0.16, 0.32, 0.64], [30, 32, 34, 36]))
    comparison = compare(baseline, candidate)
    assert comparison["class_curve"]["bd_rate"] == pytest.approx(-20.0, abs=0.1)
    assert compare(candidate, baseline)["class_curve"]["bd_rate"] == pytest.approx(25.0, abs=0.1)
    text = table(baseline, candidate, comparison, ("old", "new"))
    assert "| clip | 0 | 0.1000 | 30.000 | 0.0800 | 30.000 | -20.0 % | +0.000 dB |" in text
    assert "| mean curve of the 1 clips | -20.0 % | " in text
    assert verdict(comparison) == (True, "BD-rate -20.0 % on the mean curve")


def test_curves_without_a_common_quality_range_have_no_bd_rate():
    baseline = rd_points(report([0.1, 0.2, 0.4, 0.8], [20, 21, 22, 23]))
    candidate = rd_points(report([0.1, 0.2, 0.4, 0.8], [30, 32, 34, 36]))
    comparison = compare(baseline, candidate)
    result = comparison["class_curve"]
    assert result["bd_rate"] is None and result["note"]
    assert result["bd_psnr"] == pytest.approx(11.5, abs=0.5), "the candidate is far above at equal rates"
    better, reason = verdict(comparison)
    assert better and reason.startswith("BD-rate undefined (the curves cover no common quality range); BD-PSNR +")
    assert "| mean curve of the 1 clips | - (the curves cover no common quality range) | +" in table(
        baseline, candidate, comparison, ("old", "new"))


def test_curves_sharing_neither_quality_nor_rate_leave_the_verdict_undecided():
    baseline = rd_points(report([0.01, 0.02, 0.03, 0.04], [20, 21, 22, 23]))
    candidate = rd_points(report([0.1, 0.2, 0.4, 0.8], [30, 32, 34, 36]))
    better, reason = verdict(compare(baseline, candidate))
    assert better is None and "no common rate range" in reason


def anchor_points(rates: list[float], psnrs: list[float]) -> dict:
    """x264-like points of one clip, keyed by CRF."""
    return {"clip": {crf: (bpp, psnr) for crf, bpp, psnr in zip((22, 32, 42, 51), rates, psnrs, strict=True)}}


def test_models_without_common_ranges_are_judged_by_their_distance_to_a_common_anchor():
    anchor = anchor_points([0.01, 0.03, 0.1, 0.3], [30, 34, 38, 42])
    baseline = rd_points(report([0.011, 0.012, 0.013, 0.014], [20, 20.1, 20.2, 20.3]))
    candidate = rd_points(report([0.05, 0.08, 0.12, 0.2], [28, 30, 32, 34]))
    assert verdict(compare(baseline, candidate))[0] is None
    comparison = compare_through_anchor(baseline, candidate, anchor)
    assert comparison["baseline"]["bd_psnr"] < comparison["candidate"]["bd_psnr"] < 0
    better, reason = anchored_verdict(comparison, "x264")
    assert better is True and reason.startswith("BD-PSNR against x264: candidate -")
    worse, _ = anchored_verdict(compare_through_anchor(candidate, baseline, anchor), "x264")
    assert worse is False
    assert "| baseline | - (the curves cover no common quality range) | -10.67 dB |" in anchored_table(comparison, "x264")


def test_an_anchor_that_covers_neither_model_leaves_the_verdict_undecided():
    anchor = anchor_points([1.0, 2.0, 3.0, 4.0], [50, 52, 54, 56])
    baseline = rd_points(report([0.011, 0.012, 0.013, 0.014], [20, 20.1, 20.2, 20.3]))
    candidate = rd_points(report([0.05, 0.08, 0.12, 0.2], [28, 30, 32, 34]))
    better, reason = anchored_verdict(compare_through_anchor(baseline, candidate, anchor), "x264")
    assert better is None and "neither BD-rate nor BD-PSNR against x264" in reason
