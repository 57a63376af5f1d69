"""benchmarks/rd_slopes.py: the RD slopes between a model's quality indices, from a cmfr eval CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from benchmark_modules import load_benchmark

rd_slopes = load_benchmark("rd_slopes")
COLUMNS = ("sequence", "codec", "quality", "bpp", "psnr_y", "psnr_u", "psnr_v", "psnr_yuv")


def write_csv(path: Path, rows: list[tuple]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


def psnr(mse: float) -> float:
    return -10 * math.log10(mse)


def test_the_distortion_is_the_yuv_mse_the_training_loss_weighs():
    row = {"psnr_y": str(psnr(1e-3)), "psnr_u": str(psnr(4e-3)), "psnr_v": str(psnr(2e-3))}
    assert rd_slopes.yuv_distortion(row) == pytest.approx((6e-3 + 4e-3 + 2e-3) / 8)


def test_the_report_gives_each_chord_slope_the_span_and_the_projected_spread(tmp_path: Path, capsys):
    # D falls 8e-4 -> 4e-4 -> 2e-4 while the rate grows by 0.04 then 0.06 bpp: slopes 100 and 300.
    rows = [("clip", "cmfr", q, bpp, psnr(d), psnr(d), psnr(d), psnr(d))
            for q, bpp, d in ((63, 0.2, 2e-4), (0, 0.1, 8e-4), (21, 0.14, 4e-4))]
    rows.append(("clip", "x264", 22, 0.5, 40.0, 40.0, 40.0, 40.0))
    path = write_csv(tmp_path / "card.csv", rows)
    assert rd_slopes.main([str(path)]) == 0
    printed = capsys.readouterr().out
    table = [line for line in printed.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [line.split(" | ")[0] for line in table] == ["| 0", "| 21", "| 63"]
    assert table[0].endswith("| 100 |") and table[1].endswith("| 300 |") and table[2].endswith("|  |")
    span = psnr(2e-4) - psnr(8e-4)
    doublings = math.log2(840 / 85)
    assert f"PSNR-YUV span {span:.2f} dB over {doublings:.2f} doublings" in printed
    assert f"(a projection): {8 / span:.2f}" in printed


def test_a_csv_without_the_codec_is_refused_with_one_line(tmp_path: Path, capsys):
    path = write_csv(tmp_path / "card.csv", [("clip", "x264", 22, 0.5, 40.0, 40.0, 40.0, 40.0)])
    with pytest.raises(SystemExit) as exit_info:
        rd_slopes.main([str(path)])
    assert exit_info.value.code == 2 and "has no rows of codec 'cmfr'" in capsys.readouterr().err
