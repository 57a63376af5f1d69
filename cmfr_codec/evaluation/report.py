"""The comparison report: JSON (schema in docs/eval.md), a CSV beside it, and reading one back for ``--resume``.

Files are written through :class:`AtomicOutput`: a report on disk is always whole.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
from pathlib import Path
from typing import Any

from cmfr_codec import __version__
from cmfr_codec.atomic import AtomicOutput
from cmfr_codec.errors import InputError
from cmfr_codec.evaluation.bdrate import bd_rate_tables, class_average_points
from cmfr_codec.evaluation.jobs import SEQUENCE_AVERAGING, Job

REPORT_FORMAT = "cmfr-eval-report"
REPORT_VERSION = 1

AVERAGING = {
    "sequence": SEQUENCE_AVERAGING,
    "class_points": "arithmetic mean over the class's sequences of bpp, kbps and each quality metric, per codec and rate point",
    "bd_rate.class_curve": "BD-rate between the class-average curves (class_points)",
    "bd_rate.mean_of_sequences": "arithmetic mean of the per-sequence BD-rates of the class",
}

TIMING_KEYS = ("encode_seconds", "decode_seconds", "encode_fps", "decode_fps")
"""Fields that measure the machine rather than the codec: they differ between runs."""

CSV_COLUMNS = (
    "class", "sequence", "codec", "quality", "quality_kind", "width", "height", "fps", "frames", "intra_period",
    "coded_bytes", "bpp", "kbps", "psnr_y", "psnr_u", "psnr_v", "psnr_yuv", "psnr_rgb", "msssim_y", "msssim_yuv",
    "encode_fps", "decode_fps", "encode_seconds", "decode_seconds", "source",
)


def environment(device: str, score_threads: int) -> dict[str, Any]:
    """The machine the timings were taken on."""
    import av
    import torch

    return {
        "machine": platform.machine(),
        "cpu": _cpu_name(),
        "logical_cpus": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pyav": av.__version__,
        "ffmpeg_libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
        "scoring_torch_threads": score_threads,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def build_report(
    entries: list[dict[str, Any]],
    *,
    complete: bool,
    settings: dict[str, Any],
    anchor: str | None,
    bd_method: str,
    bd_metrics: tuple[str, ...],
    machine: dict[str, Any],
) -> dict[str, Any]:
    """The whole report for ``entries`` (in job order), with class averages and BD-rates."""
    tables = bd_rate_tables(entries, anchor, bd_method, bd_metrics) if anchor else None
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "generator": f"cmfr {__version__}",
        "complete": complete,
        "settings": settings,
        "environment": machine,
        "averaging": AVERAGING,
        "results": entries,
        "class_points": class_average_points(entries, bd_metrics),
        "bd_rate": {
            "anchor": anchor,
            "method": bd_method,
            "metrics": list(bd_metrics),
            "unit": "percent change of the rate at equal quality against the anchor; negative: fewer bits",
            "per_sequence": tables["per_sequence"] if tables else [],
            "per_class": tables["per_class"] if tables else [],
        },
    }


def csv_path(report_path: Path) -> Path:
    return report_path.with_suffix(".csv")


def plot_path(report_path: Path) -> Path:
    return report_path.with_suffix(".png")


def write_report(report: dict[str, Any], report_path: Path, *, plot: bool = False) -> None:
    """``REPORT.json``, ``REPORT.csv`` and (with ``plot``) the RD curves ``REPORT.png``.

    All are written to temporary files first and renamed into place together at the end.
    """
    from cmfr_codec.evaluation.plot import draw_rd_plot

    text = json.dumps(report, indent=1, allow_nan=False) + "\n"
    rows = io.StringIO()
    writer = csv.DictWriter(rows, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for entry in report["results"]:
        writer.writerow({key: "" if entry.get(key) is None else entry[key] for key in CSV_COLUMNS})
    with (
        AtomicOutput(report_path) as output,
        AtomicOutput(csv_path(report_path)) as table,
        AtomicOutput(plot_path(report_path)) as figure,
    ):
        output.temporary_path.write_text(text)
        table.temporary_path.write_text(rows.getvalue())
        if not (plot and draw_rd_plot(report, figure.temporary_path)):
            figure.abort()


def finished_entries(
    report_path: Path, jobs: list[Job], msssim: bool = True
) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    """The entries of an earlier report that stand for some of ``jobs``: same key, same settings, and
    MS-SSIM present if ``msssim`` asks for it."""
    if not report_path.is_file():
        return {}
    try:
        report = json.loads(report_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"--resume: cannot read {report_path}: {error}") from None
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        raise InputError(f"--resume: {report_path} is not a cmfr eval report")
    if report.get("version") != REPORT_VERSION:
        raise InputError(f"--resume: {report_path} has report version {report.get('version')}; this build writes {REPORT_VERSION}")
    wanted = {job.key: job.identity for job in jobs}
    reused = {}
    for entry in report.get("results", []):
        key = (entry.get("class"), entry.get("sequence"), entry.get("codec"), entry.get("quality"))
        identity = wanted.get(key)
        if identity is None or any(entry.get(field) != value for field, value in identity.items()):
            continue
        if not msssim or entry.get("msssim_y") is not None:
            reused[key] = entry
    return reused
