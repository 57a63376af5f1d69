"""RD curves as a PNG: one row per class (class-average points), PSNR-YUV and MS-SSIM-YUV against bpp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PANELS = (("psnr_yuv", "PSNR-YUV (6:1:1) [dB]"), ("msssim_yuv", "MS-SSIM-YUV (6:1:1)"))
MARKERS = "os^Dv<>"


def draw_rd_plot(report: dict[str, Any], path: Path) -> bool:
    """Draw the report's class-average RD curves into the PNG ``path``; False if there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = report["class_points"]
    classes = list(dict.fromkeys(point["class"] for point in points))
    panels = [panel for panel in PANELS if any(point.get(panel[0]) is not None for point in points)]
    if not classes or not panels:
        return False
    codecs = list(dict.fromkeys(point["codec"] for point in points))
    bd = report["bd_rate"]
    figure, axes = plt.subplots(
        len(classes), len(panels), figsize=(5.2 * len(panels), 3.9 * len(classes)), squeeze=False
    )
    for row, class_name in enumerate(classes):
        class_points = [point for point in points if point["class"] == class_name]
        sequences = class_points[0]["sequences"]
        for column, (metric, label) in enumerate(panels):
            axis = axes[row][column]
            for number, codec in enumerate(codecs):
                curve = sorted(
                    (point["bpp"], point[metric]) for point in class_points
                    if point["codec"] == codec and point[metric] is not None
                )
                if curve:
                    axis.plot(*zip(*curve, strict=True), marker=MARKERS[number % len(MARKERS)],
                              label=_legend(codec, class_name, metric, bd))
            axis.set_xlabel("bpp")
            axis.set_ylabel(label)
            axis.set_title(_title(report, class_name, sequences), fontsize=10)
            axis.grid(True, alpha=0.3)
            axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=80, format="png")
    plt.close(figure)
    return True


def _title(report: dict[str, Any], class_name: str, sequences: int) -> str:
    if sequences == 1:
        entry = next(entry for entry in report["results"] if entry["class"] == class_name)
        return f"{entry['sequence']}, {entry['frames']} frames"
    return f"{class_name}: mean of {sequences} sequences"


def _legend(codec: str, class_name: str, metric: str, bd: dict[str, Any]) -> str:
    if codec == bd["anchor"]:
        return f"{codec} (anchor)"
    for row in bd["per_class"]:
        if row["class"] == class_name and row["codec"] == codec:
            value = row["class_curve"].get(metric)
            return f"{codec} (no BD-rate)" if value is None else f"{codec} (BD-rate {value:+.1f} %)"
    return codec
