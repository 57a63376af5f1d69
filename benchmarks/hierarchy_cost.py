"""What the quality hierarchy gains: each setting against every frame at the requested quality, one BD-rate each.

    python benchmarks/hierarchy_cost.py [--settings 4x16,4x24,4x32,8x24] [--model cmfr-s]
        [--frames 32] [--qualities 0,21,42,63] [--run runs/hierarchy-cost] [INPUT ...]

A setting ``PxB`` is a hierarchy period and boost (:mod:`cmfr_codec.hierarchy`): each I-frame and every
P-th P-frame after it B quality indices above the requested one (at most 63), the other P-frames at it.  Every
setting, the default one always among them, codes the inputs with ``cmfr eval --codecs cmfr
--cmfr-hierarchy-period P --cmfr-hierarchy-boost B`` (intra period 32, the eval default) into
``RUN/PxB.json``, and so does the flat coding ``1x0`` (every frame at the requested index;
``--resume``: use a fresh ``--run`` after changing the model or the code).  The inputs default to
the validation clips of ``benchmarks/compare_weights.py``.  It prints one row per setting: the
BD-rate (PSNR-YUV, pchip) against flat coding on each clip and on the mean curve, and the BD-PSNR
on the mean curve; then the default setting's RD points next to flat coding's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cmfr_codec.evaluation.model_comparison import compare, rd_points, table
from cmfr_codec.hierarchy import DEFAULT_HIERARCHY, FLAT, QualityHierarchy

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_weights import add_model_run_arguments, evaluate, validation_clips  # noqa: E402

DEFAULT_SETTINGS = "4x16,4x24,4x32,8x24"


def name(hierarchy: QualityHierarchy) -> str:
    return f"{hierarchy.period}x{hierarchy.boost}"


def parse_settings(text: str) -> list[QualityHierarchy]:
    """``"4x24,8x16"`` -> hierarchies, the default one added when missing, flat coding left out."""
    settings = []
    for item in text.split(","):
        period, separator, boost = item.strip().partition("x")
        if not separator or not period.isdecimal() or not boost.isdecimal():
            raise ValueError(f"{item!r} is not PERIODxBOOST, e.g. 4x24")
        settings.append(QualityHierarchy(int(period), int(boost)))
    settings += [] if DEFAULT_HIERARCHY in settings else [DEFAULT_HIERARCHY]
    return [setting for setting in dict.fromkeys(settings) if setting.period > 1 and setting.boost > 0]


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f} %"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="*", type=Path, help="clips (default: the validation clips)")
    parser.add_argument("--settings", default=DEFAULT_SETTINGS,
                        help=f"hierarchies PERIODxBOOST, comma-separated (default: {DEFAULT_SETTINGS}; "
                             f"the default {name(DEFAULT_HIERARCHY)} is always added)")
    add_model_run_arguments(parser, "hierarchy-cost")
    arguments = parser.parse_args(argv)
    try:
        settings = parse_settings(arguments.settings)
    except ValueError as error:
        parser.error(f"--settings: {error}")
    inputs = arguments.inputs or validation_clips()
    arguments.run.mkdir(parents=True, exist_ok=True)
    points = {}
    for hierarchy in (FLAT, *settings):
        report = evaluate(arguments.model, inputs, arguments.run / f"{name(hierarchy)}.json", arguments.frames,
                          arguments.qualities, ("--cmfr-hierarchy-period", str(hierarchy.period),
                                                "--cmfr-hierarchy-boost", str(hierarchy.boost)))
        points[name(hierarchy)] = rd_points(report)
    flat = points.pop(name(FLAT))
    comparisons = {label: compare(flat, candidate) for label, candidate in points.items()}
    clips = next(iter(comparisons.values()))["sequences"]
    print("\n| hierarchy (period x boost) | " + " | ".join(f"BD-rate {clip}" for clip in clips)
          + " | BD-rate, mean curve | BD-PSNR, mean curve |")
    print("| --- | " + " | ".join("---:" for _ in clips) + " | ---: | ---: |")
    for label, comparison in comparisons.items():
        cells = [percent(comparison["per_sequence"][clip]["bd_rate"]) for clip in clips]
        mean = comparison["class_curve"]
        bd_psnr = "-" if mean["bd_psnr"] is None else f"{mean['bd_psnr']:+.2f} dB"
        print(f"| {label} | " + " | ".join(cells) + f" | {percent(mean['bd_rate'])} | {bd_psnr} |")
    default = name(DEFAULT_HIERARCHY)
    print("\nThe default hierarchy against flat coding:\n")
    print(table(flat, points[default], comparisons[default], ("flat", default)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
