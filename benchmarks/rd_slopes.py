"""How the trained lambdas shape a model's quality span: the RD slopes between its quality indices.

    python benchmarks/rd_slopes.py docs/model_card/bikes.csv [--codec cmfr] [--spread 1] [--target-span 8]

Reads the CSV that ``cmfr eval`` writes (the model card's, for instance) and prints, for each
sequence coded by ``--codec``, its points in quality order with the lambda each index trains at
(``lambda_for(q, spread)``, docs/training.md "The lambda range and the quality span"), the
distortion D the training loss weighs (MSE on [0, 1], YUV 6:1:1, from the mean per-plane PSNRs, so
a little below the mean of the per-frame MSEs), and between neighbours the chord slope
-dR/dD in bits per pixel per unit of D: a model trained to optimum at lambda has slope lambda
there.  Its last lines are the PSNR-YUV span from the lowest to the highest index, the span per
doubling of lambda, and the lambda spread that would reach ``--target-span`` if PSNR stayed
linear in log lambda (a projection, not a measurement).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

from cmfr_codec.training.losses import lambda_for


def yuv_distortion(row: dict[str, str]) -> float:
    """The training loss's D (YUV 6:1:1 MSE on [0, 1]) from a row's per-plane PSNRs."""
    y, u, v = (10 ** (-float(row[f"psnr_{plane}"]) / 10) for plane in "yuv")
    return (6 * y + u + v) / 8


def sequence_points(path: Path, codec: str) -> dict[str, list[dict[str, str]]]:
    """Rows of ``codec`` per sequence, in quality order."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["codec"] == codec]
    sequences: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        sequences.setdefault(row["sequence"], []).append(row)
    return {name: sorted(points, key=lambda row: int(row["quality"])) for name, points in sequences.items()}


def report(name: str, points: list[dict[str, str]], spread: float, target_span: float) -> str:
    lines = [f"{name}:", "", "| quality | lambda | bpp | PSNR-YUV (dB) | D (x1e-4) | slope -dR/dD to the next |",
             "|---|---|---|---|---|---|"]
    distortions = [yuv_distortion(row) for row in points]
    for index, row in enumerate(points):
        slope = ""
        if index + 1 < len(points):
            drop = distortions[index] - distortions[index + 1]
            slope = f"{(float(points[index + 1]['bpp']) - float(row['bpp'])) / drop:.0f}" if drop > 0 else "(D does not fall)"
        lines.append(f"| {row['quality']} | {lambda_for(int(row['quality']), spread):.0f} | {float(row['bpp']):.4f} | "
                     f"{float(row['psnr_yuv']):.2f} | {distortions[index] * 1e4:.2f} | {slope} |")
    low, high = points[0], points[-1]
    span = float(high["psnr_yuv"]) - float(low["psnr_yuv"])
    doublings = math.log2(lambda_for(int(high["quality"]), spread) / lambda_for(int(low["quality"]), spread))
    summary = f"PSNR-YUV span {span:.2f} dB"
    if doublings > 0:
        summary += f" over {doublings:.2f} doublings of lambda ({span / doublings:.2f} dB per doubling)"
    lines += ["", summary]
    if doublings > 0 and span > 0:
        lines.append(f"spread for a {target_span:g} dB span if PSNR stays linear in log lambda (a projection): "
                     f"{spread * target_span / span:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", type=Path, help="a CSV written by cmfr eval")
    parser.add_argument("--codec", default="cmfr", help="(default: cmfr)")
    parser.add_argument("--spread", type=float, default=1.0, help="the lambda spread the model trained with (default: 1)")
    parser.add_argument("--target-span", type=float, default=8.0, help="dB (default: 8, issue 5's target)")
    arguments = parser.parse_args(argv)
    if not arguments.csv.is_file():
        parser.error(f"no such file: {arguments.csv}")
    if arguments.spread <= 0:
        parser.error(f"--spread must be positive, got {arguments.spread}")
    sequences = sequence_points(arguments.csv, arguments.codec)
    if not sequences:
        parser.error(f"{arguments.csv} has no rows of codec {arguments.codec!r}")
    print("\n\n".join(report(name, points, arguments.spread, arguments.target_span)
                      for name, points in sequences.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
