"""What an encoder preset costs or saves in rate against medium: both coded with ``cmfr eval``, one BD-rate.

    python benchmarks/preset_cost.py [--preset fast|slow] [--model cmfr-s] [--frames 32]
        [--qualities 0,21,42,63] [--run runs/preset-cost] [INPUT ...]

The inputs default to the validation clips of ``benchmarks/compare_weights.py`` (the example clip
and, once fetched, bikes.mp4).  The model codes them with ``cmfr eval --codecs cmfr --cmfr-preset
medium`` and ``--cmfr-preset PRESET`` (``--preset``, default fast; intra period 32, the eval
default) into ``RUN/medium.json`` and ``RUN/PRESET.json`` (``--resume``: use a fresh ``--run`` after
changing the model or the code).  It prints both presets' RD points, the BD-rate (PSNR-YUV) of
PRESET against medium per clip and on
the mean curve, and each preset's mean encode frame rate over the runs (``cmfr eval``'s timing:
one process, the coding threads of this machine; the speed table of ``benchmarks/speed.py`` is the
figure to quote for speed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cmfr_codec.evaluation.model_comparison import compare, rd_points, table
from cmfr_codec.presets import PRESETS

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_weights import add_model_run_arguments, evaluate, validation_clips  # noqa: E402

COMPARED = tuple(preset for preset in PRESETS if preset != "medium")
"""The presets measured against medium."""


def mean_encode_fps(report: dict) -> float:
    """Frames over encode seconds, summed over every run of the report."""
    entries = report["results"]
    return sum(entry["frames"] for entry in entries) / sum(entry["encode_seconds"] for entry in entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="*", type=Path, help="clips (default: the validation clips)")
    parser.add_argument("--preset", choices=COMPARED, default="fast",
                        help="the preset compared with medium (default: fast)")
    add_model_run_arguments(parser, "preset-cost")
    arguments = parser.parse_args(argv)
    inputs = arguments.inputs or validation_clips()
    arguments.run.mkdir(parents=True, exist_ok=True)
    presets = ("medium", arguments.preset)
    reports = {preset: evaluate(arguments.model, inputs, arguments.run / f"{preset}.json", arguments.frames,
                                arguments.qualities, ("--cmfr-preset", preset))
               for preset in presets}
    points = {preset: rd_points(report) for preset, report in reports.items()}
    comparison = compare(points["medium"], points[arguments.preset])
    print(table(points["medium"], points[arguments.preset], comparison, presets))
    print("\n| preset | mean encode fps (cmfr eval) |\n| --- | --- |")
    for preset, report in reports.items():
        print(f"| {preset} | {mean_encode_fps(report):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
