"""Bjøntegaard delta rate with the ``bjontegaard`` package, per sequence and on class-averaged curves.

BD-rate is the average difference in log rate between a codec's RD curve and the anchor's, over
the quality interval both cover, as a percentage of the anchor's rate: -10 means the codec needs
10 % fewer bits than the anchor for the same quality.  The package interpolates log rate as a
function of quality; PCHIP (piecewise cubic Hermite, monotone between the points) is the default,
as in the JCT-VC/JVET common-test-conditions Excel sheets; ``cubic`` is the original VCEG-M33
third-order polynomial fit and ``akima`` an Akima spline.

Two class figures, both reported and labelled:

* ``class_curve``: BD-rate of the class-average curve, whose point for each rate point is the
  arithmetic mean of bpp and of quality over the class's sequences (the DCVC papers' convention);
* ``mean_of_sequences``: the arithmetic mean of the per-sequence BD-rates (the JVET convention).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from cmfr_codec.evaluation.settings import DEFAULT_BD_METHOD

BD_METRICS = ("psnr_yuv", "psnr_y", "psnr_rgb", "msssim_yuv", "msssim_y")
MIN_POINTS = {"pchip": 2, "akima": 2, "cubic": 4}
"""Fewest RD points each method can interpolate: a cubic fit needs four."""

Curve = list[tuple[float, float]]
"""RD points as (bpp, quality)."""


def bd_rate(anchor: Curve, test: Curve, method: str = DEFAULT_BD_METHOD) -> tuple[float | None, str | None]:
    """BD-rate of ``test`` against ``anchor`` in percent, or ``None`` and the reason it has no value."""
    return _bjontegaard("bd_rate", anchor, test, method, axis=1)


def bd_psnr(anchor: Curve, test: Curve, method: str = DEFAULT_BD_METHOD) -> tuple[float | None, str | None]:
    """BD-PSNR of ``test`` against ``anchor``: the mean quality difference (in the quality's unit, dB
    for PSNR) over the log-rate interval both cover; positive is better.  ``None`` and the reason
    when it has no value.  Where two curves share no quality range BD-rate is undefined, but if
    they share a rate range this still says which one is above the other there."""
    return _bjontegaard("bd_psnr", anchor, test, method, axis=0)


def _bjontegaard(function: str, anchor: Curve, test: Curve, method: str, axis: int) -> tuple[float | None, str | None]:
    """The ``bjontegaard`` package's ``function`` over the interval of the ``axis`` (1: quality,
    0: rate) both curves cover."""
    import matplotlib

    matplotlib.use("Agg")  # bjontegaard imports pyplot; a command-line tool must never open a window
    import bjontegaard

    # Rate points that coded to the same stream (e.g. cmfr's qualities 42 and 63 of one I-frame under the
    # quality hierarchy, both at 63) are one point of the curve, not two of equal quality.
    anchor, test = list(dict.fromkeys(anchor)), list(dict.fromkeys(test))
    problem = _unusable(anchor, method, "the anchor", axis) or _unusable(test, method, "the codec", axis)
    if problem:
        return None, problem
    anchor_rate, anchor_quality = _sorted(anchor, axis)
    test_rate, test_quality = _sorted(test, axis)
    anchor_axis, test_axis = (anchor_quality, test_quality) if axis else (anchor_rate, test_rate)
    if min(anchor_axis[-1], test_axis[-1]) - max(anchor_axis[0], test_axis[0]) <= 0:
        return None, f"the curves cover no common {'quality' if axis else 'rate'} range"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = getattr(bjontegaard, function)(
            anchor_rate, anchor_quality, test_rate, test_quality, method,
            require_matching_points=False, min_overlap=0,
        )
    if not math.isfinite(value):
        return None, "the interpolation gave no finite value"
    return float(value), None


def _unusable(curve: Curve, method: str, who: str, axis: int = 1) -> str | None:
    if any(not (math.isfinite(rate) and math.isfinite(quality)) for rate, quality in curve):
        return f"{who} has a missing value"
    if any(rate <= 0 for rate, _ in curve):
        return f"{who} has a zero rate"
    values = [point[axis] for point in curve]
    if len(set(values)) < len(values):
        return f"{who} has two points of equal {'quality' if axis else 'rate'}"
    if len(curve) < MIN_POINTS[method]:
        return f"{method} needs at least {MIN_POINTS[method]} points, {who} has {len(curve)}"
    return None


def _sorted(curve: Curve, axis: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Rates and qualities ordered by quality (``axis`` 1) or by rate (0)."""
    ordered = sorted(curve, key=lambda point: point[axis])
    return np.array([rate for rate, _ in ordered]), np.array([quality for _, quality in ordered])


def _curve(entries: Iterable[dict[str, Any]], metric: str) -> Curve:
    return [(entry["bpp"], math.nan if entry[metric] is None else entry[metric]) for entry in entries]


def class_average_points(entries: Sequence[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """The class-average RD points: per (class, codec, quality), the mean of bpp, kbps and each metric.

    A point is made only where every sequence of the class has a result, so the average is
    always over the same sequences.
    """
    sequences_of: dict[str, list[str]] = {}
    for entry in entries:
        names = sequences_of.setdefault(entry["class"], [])
        if entry["sequence"] not in names:
            names.append(entry["sequence"])
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for entry in entries:
        groups.setdefault((entry["class"], entry["codec"], entry["quality"]), []).append(entry)
    points = []
    for (class_name, codec, quality), members in groups.items():
        if len(members) != len(sequences_of[class_name]):
            continue
        point = {"class": class_name, "codec": codec, "quality": quality, "quality_kind": members[0]["quality_kind"],
                 "sequences": len(members)}
        for key in ("bpp", "kbps", *metrics, "encode_fps", "decode_fps"):
            values = [member[key] for member in members]
            point[key] = None if any(value is None for value in values) else math.fsum(values) / len(values)
        points.append(point)
    return points


def bd_rate_tables(
    entries: Sequence[dict[str, Any]], anchor: str, method: str, metrics: Sequence[str]
) -> dict[str, Any]:
    """Per-sequence and per-class BD-rates of every codec against ``anchor``, in the report's form.

    The class figures use the class-average curves of :func:`class_average_points`.
    """
    by_curve: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        by_curve.setdefault((entry["class"], entry["sequence"], entry["codec"]), []).append(entry)
    per_sequence = []
    for (class_name, sequence, codec), curve_entries in by_curve.items():
        anchor_entries = by_curve.get((class_name, sequence, anchor))
        if codec == anchor or anchor_entries is None:
            continue
        values, notes = _bd_for_metrics(anchor_entries, curve_entries, method, metrics)
        per_sequence.append({"class": class_name, "sequence": sequence, "codec": codec, "bd_rate": values, "notes": notes})

    points = class_average_points(entries, metrics)
    per_class = []
    curves: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for point in points:
        curves.setdefault((point["class"], point["codec"]), []).append(point)
    for (class_name, codec), class_points in curves.items():
        if codec == anchor or (class_name, anchor) not in curves:
            continue
        values, notes = _bd_for_metrics(curves[(class_name, anchor)], class_points, method, metrics)
        members = [row for row in per_sequence if row["class"] == class_name and row["codec"] == codec]
        mean = {
            metric: (
                math.fsum(row["bd_rate"][metric] for row in members) / len(members)
                if members and all(row["bd_rate"][metric] is not None for row in members) else None
            )
            for metric in metrics
        }
        per_class.append({
            "class": class_name,
            "codec": codec,
            "sequences": len(members),
            "class_curve": values,
            "mean_of_sequences": mean,
            "notes": notes,
        })
    return {"per_sequence": per_sequence, "per_class": per_class}


def _bd_for_metrics(
    anchor_entries: Sequence[dict[str, Any]], test_entries: Sequence[dict[str, Any]], method: str, metrics: Sequence[str]
) -> tuple[dict[str, float | None], dict[str, str]]:
    values: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for metric in metrics:
        value, reason = bd_rate(_curve(anchor_entries, metric), _curve(test_entries, metric), method)
        values[metric] = value
        if reason:
            notes[metric] = reason
    return values, notes
