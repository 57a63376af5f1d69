"""Two cmfr models on the same clips: RD points from ``cmfr eval`` reports, and BD-rates between them.

Used where a model must be judged against another with the same evaluation: the rate cost of the
integer entropy path (``benchmarks/integer_cost.py``), whether new weights beat the shipped ones
(``benchmarks/compare_weights.py``), the CMFR ablation.
"""

from __future__ import annotations

from cmfr_codec.evaluation.bdrate import bd_psnr, bd_rate

BD_METRIC = "psnr_yuv"

Points = dict[str, dict[int, tuple[float, float]]]
"""``{sequence: {quality index: (bpp, PSNR-YUV)}}``."""


def rd_points(report: dict, frame_type: str | None = None) -> Points:
    """The RD points of a ``cmfr eval`` report (one codec, one model).

    With ``frame_type`` ("I" or "P"), the means over that type's frames only (from the per-frame rows).
    """
    points: Points = {}
    for entry in report["results"]:
        if frame_type is None:
            point = (entry["bpp"], entry[BD_METRIC])
        else:
            frames = [frame for frame in entry["per_frame"] if frame["type"] == frame_type]
            point = tuple(sum(frame[key] for frame in frames) / len(frames) for key in ("bpp", BD_METRIC))
        points.setdefault(entry["sequence"], {})[entry["quality"]] = point
    return points


def compare(baseline: Points, candidate: Points) -> dict:
    """Per-sequence and class-average BD-rates (PSNR-YUV) of ``candidate`` against ``baseline``.

    The class curve averages bpp and PSNR over the sequences at each quality index both have.
    """
    sequences = sorted(set(baseline) & set(candidate))
    qualities = sorted(set.intersection(*(set(points[name]) for points in (baseline, candidate)
                                          for name in sequences)))
    per_sequence = {name: _deltas(list(baseline[name].values()), list(candidate[name].values()))
                    for name in sequences}

    return {"sequences": sequences, "qualities": qualities, "per_sequence": per_sequence,
            "class_curve": _deltas(mean_curve(baseline, sequences, qualities),
                                   mean_curve(candidate, sequences, qualities))}


def mean_curve(points: Points, sequences: list[str], rate_points: list) -> list[tuple[float, float]]:
    """(bpp, PSNR) averaged over ``sequences`` at each of ``rate_points`` (quality indices, or CRFs)."""
    return [tuple(sum(points[name][rate_point][part] for name in sequences) / len(sequences) for part in (0, 1))
            for rate_point in rate_points]


def _own_mean_curve(points: Points, sequences: list[str]) -> list[tuple[float, float]]:
    return mean_curve(points, sequences, sorted(set.intersection(*(set(points[name]) for name in sequences))))


def compare_through_anchor(baseline: Points, candidate: Points, anchor: Points) -> dict:
    """Each model's BD-rate and BD-PSNR against a third codec (``anchor``, e.g. x264 on the same clips),
    on the mean curves over the sequences all three have: for models whose curves share neither a
    quality nor a rate range, so that :func:`compare` cannot judge one against the other."""
    sequences = sorted(set(baseline) & set(candidate) & set(anchor))
    reference = _own_mean_curve(anchor, sequences)
    return {"sequences": sequences,
            **{label: _deltas(reference, _own_mean_curve(points, sequences))
               for label, points in (("baseline", baseline), ("candidate", candidate))}}


def anchored_verdict(comparison: dict, anchor: str) -> tuple[bool | None, str]:
    """Whether the candidate is the closer of the two models to the anchor: by BD-rate where both have
    one against it, else by BD-PSNR; ``None`` when neither is defined for both."""
    base, new = comparison["baseline"], comparison["candidate"]
    if base["bd_rate"] is not None and new["bd_rate"] is not None:
        return new["bd_rate"] < base["bd_rate"], (f"BD-rate against {anchor}: candidate {new['bd_rate']:+.1f} %, "
                                                  f"baseline {base['bd_rate']:+.1f} %")
    if base["bd_psnr"] is not None and new["bd_psnr"] is not None:
        return new["bd_psnr"] > base["bd_psnr"], (f"BD-PSNR against {anchor}: candidate {new['bd_psnr']:+.2f} dB, "
                                                  f"baseline {base['bd_psnr']:+.2f} dB")
    return None, f"neither BD-rate nor BD-PSNR against {anchor} is defined for both models"


def anchored_table(comparison: dict, anchor: str) -> str:
    """Markdown: each model's BD-rate and BD-PSNR against ``anchor`` on the mean curve."""
    lines = [f"| model against {anchor}, mean curve of {len(comparison['sequences'])} clips (PSNR-YUV, pchip) "
             "| BD-rate | BD-PSNR |", "| --- | --- | --- |"]
    for label in ("baseline", "candidate"):
        lines.append(f"| {label} | {_with_note(comparison[label])} | {_psnr_with_note(comparison[label])} |")
    return "\n".join(lines)


def _deltas(baseline: list[tuple[float, float]], candidate: list[tuple[float, float]]) -> dict:
    """BD-rate (over the common quality range) and BD-PSNR (over the common rate range), with the
    reason each is missing when it is."""
    rate, rate_note = bd_rate(baseline, candidate)
    psnr, psnr_note = bd_psnr(baseline, candidate)
    return {"bd_rate": rate, "note": rate_note, "bd_psnr": psnr, "psnr_note": psnr_note}


def verdict(comparison: dict) -> tuple[bool | None, str]:
    """Whether the candidate is better on the mean curve, and why: by BD-rate (negative is better)
    where the curves share a quality range, else by BD-PSNR (positive is better) where they share
    a rate range; ``None`` when neither is defined."""
    result = comparison["class_curve"]
    if result["bd_rate"] is not None:
        return result["bd_rate"] < 0, f"BD-rate {result['bd_rate']:+.1f} % on the mean curve"
    if result["bd_psnr"] is not None:
        return result["bd_psnr"] > 0, (f"BD-rate undefined ({result['note']}); BD-PSNR {result['bd_psnr']:+.2f} dB "
                                       "over the rates both curves cover")
    return None, f"BD-rate undefined ({result['note']}) and BD-PSNR undefined ({result['psnr_note']})"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f} %"


def _with_note(result: dict) -> str:
    return _percent(result["bd_rate"]) + ("" if result["note"] is None else f" ({result['note']})")


def _psnr_with_note(result: dict) -> str:
    value = "-" if result["bd_psnr"] is None else f"{result['bd_psnr']:+.2f} dB"
    return value + ("" if result["psnr_note"] is None else f" ({result['psnr_note']})")


def table(baseline: Points, candidate: Points, comparison: dict, labels: tuple[str, str]) -> str:
    """Markdown: per sequence and quality index both models' bpp and PSNR-YUV, then the BD-rates."""
    first, second = labels
    lines = [f"| clip | q | {first} bpp | {first} PSNR-YUV dB | {second} bpp | {second} PSNR-YUV dB | "
             f"rate, {second} vs {first} | PSNR, {second} - {first} |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in comparison["sequences"]:
        for quality in comparison["qualities"]:
            (base_bpp, base_psnr), (new_bpp, new_psnr) = baseline[name][quality], candidate[name][quality]
            lines.append(f"| {name} | {quality} | {base_bpp:.4f} | {base_psnr:.3f} | {new_bpp:.4f} | {new_psnr:.3f} | "
                         f"{100 * (new_bpp / base_bpp - 1):+.1f} % | {new_psnr - base_psnr:+.3f} dB |")
    lines += ["", f"| {second} model against the {first} model (PSNR-YUV, pchip) | BD-rate | BD-PSNR |",
              "| --- | --- | --- |"]
    for name, result in comparison["per_sequence"].items():
        lines.append(f"| {name} | {_with_note(result)} | {_psnr_with_note(result)} |")
    curve = comparison["class_curve"]
    lines.append(f"| mean curve of the {len(comparison['sequences'])} clips | {_with_note(curve)} | "
                 f"{_psnr_with_note(curve)} |")
    return "\n".join(lines)
