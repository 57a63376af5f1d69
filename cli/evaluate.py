"""``cmfr eval``: score decoded video against its source."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from cmfr_codec.errors import InputError
from cmfr_codec.io.frames import VideoInfo

from .console import report_console
from .options import input_selection

AVERAGING = "arithmetic mean of per-frame values"


@click.command("eval")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--decoded",
    "decoded_path",
    type=click.Path(path_type=Path),
    required=True,
    metavar="PATH",
    help="Decoded video to score against INPUT (.yuv, .y4m or anything PyAV opens); raw .yuv takes "
    "INPUT's size. It must hold exactly the frames selected from INPUT.",
)
@click.option(
    "--bitstream",
    "bitstream_path",
    type=click.Path(path_type=Path),
    default=None,
    metavar="FILE",
    help="Coded file whose size gives bpp and kbps (default: no rate reported).",
)
@input_selection
@click.option("--msssim/--no-msssim", default=True, show_default=True, help="Compute MS-SSIM (Y and YUV 6:1:1).")
@click.option("--per-frame", is_flag=True, help="Print a table row per frame (default: summary only).")
@click.option(
    "--output",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="REPORT.json",
    help="Write the per-frame and mean scores as JSON (default: not written).",
)
def evaluate(
    input_path: Path,
    decoded_path: Path,
    bitstream_path: Path | None,
    size: tuple[int, int] | None,
    fps,
    frames: int | None,
    skip: int,
    msssim: bool,
    per_frame: bool,
    report_path: Path | None,
) -> None:
    """Score a decoded video against its source INPUT: PSNR Y/U/V/YUV(6:1:1), PSNR-RGB (BT.709),
    MS-SSIM Y/YUV, and bpp/kbps from the bitstream's file size.

    --skip and --frames select the source frames the decoded video corresponds to.
    Sequence scores are the arithmetic mean of per-frame values.
    """
    from cmfr_codec.atomic import AtomicOutput
    from cmfr_codec.io import open_video
    from cmfr_codec.metrics import SequenceScores
    from cmfr_codec.progress import frame_progress

    scores = SequenceScores(msssim=msssim)
    with (
        open_video(input_path, size=size, fps=fps, skip=skip, frames=frames) as reference,
        open_video(decoded_path, size=(reference.info.width, reference.info.height)) as decoded,
    ):
        info = reference.info
        if (decoded.info.width, decoded.info.height) != (info.width, info.height):
            raise InputError(
                f"{decoded_path} is {decoded.info.width}x{decoded.info.height}, "
                f"but {input_path} is {info.width}x{info.height}"
            )
        with frame_progress() as progress:
            task = progress.add_task("scoring", total=info.frame_count, status="")
            decoded_frames = iter(decoded)
            for number, source in enumerate(reference):
                candidate = next(decoded_frames, None)
                if candidate is None:
                    raise InputError(f"{decoded_path} ends after {number} frames; {input_path} has more")
                result = scores.add(source, candidate)
                progress.update(task, advance=1, status=f"PSNR-YUV {result.psnr_yuv:.2f} dB")
            if next(decoded_frames, None) is not None:
                raise InputError(f"{decoded_path} has more frames than the {len(scores.frames)} selected from {input_path}")
    if not scores.frames:
        raise InputError(f"no frames to score in {input_path}")
    mean = scores.mean()
    report = {
        "input": str(input_path),
        "decoded": str(decoded_path),
        "bitstream": str(bitstream_path) if bitstream_path else None,
        "width": info.width,
        "height": info.height,
        "fps": f"{info.fps.numerator}/{info.fps.denominator}",
        "frames": len(scores.frames),
        "averaging": AVERAGING,
        **_rates(bitstream_path, info, len(scores.frames)),
        **_rounded(asdict(mean)),
        "per_frame": [_rounded(asdict(frame)) for frame in scores.frames],
    }
    _print_report(report, per_frame)
    if report_path is not None:
        with AtomicOutput(report_path) as output:
            output.temporary_path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")


def _rates(bitstream_path: Path | None, info: VideoInfo, frame_count: int) -> dict:
    from cmfr_codec.metrics import bits_per_pixel, kilobits_per_second

    if bitstream_path is None:
        return {"file_bytes": None, "bpp": None, "kbps": None}
    if not bitstream_path.is_file():
        raise InputError(f"no such file: {bitstream_path}")
    file_bytes = bitstream_path.stat().st_size
    return {
        "file_bytes": file_bytes,
        "bpp": bits_per_pixel(file_bytes, info.width, info.height, frame_count),
        "kbps": kilobits_per_second(file_bytes, frame_count, info.fps),
    }


def _rounded(values: dict) -> dict:
    # NaN marks a metric that was not computed (--no-msssim); JSON has no NaN, so it becomes null.
    return {key: (None if isinstance(value, float) and math.isnan(value) else value) for key, value in values.items()}


METRIC_COLUMNS = (
    ("psnr_y", "PSNR-Y"), ("psnr_u", "PSNR-U"), ("psnr_v", "PSNR-V"), ("psnr_yuv", "PSNR-YUV"),
    ("psnr_rgb", "PSNR-RGB"), ("msssim_y", "MS-SSIM-Y"), ("msssim_yuv", "MS-SSIM-YUV"),
)


def _format(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.5f}" if key.startswith("msssim") else f"{value:.3f}"


def _print_report(report: dict, per_frame: bool) -> None:
    console = report_console()
    table = Table(title=f"{escape(report['input'])} vs {escape(report['decoded'])} ({report['averaging']})")
    table.add_column("frames" if not per_frame else "frame", justify="right")
    if report["bpp"] is not None:
        table.add_column("bpp", justify="right")
        table.add_column("kbps", justify="right")
    for _, title in METRIC_COLUMNS:
        table.add_column(title + " dB" if title.startswith("PSNR") else title, justify="right")
    if per_frame:
        for number, frame in enumerate(report["per_frame"]):
            rates = ["", ""] if report["bpp"] is not None else []
            table.add_row(str(number), *rates, *(_format(key, frame[key]) for key, _ in METRIC_COLUMNS))
        table.add_section()
    rates = [f"{report['bpp']:.4f}", f"{report['kbps']:.1f}"] if report["bpp"] is not None else []
    label = f"mean of {report['frames']}" if per_frame else str(report["frames"])
    table.add_row(label, *rates, *(_format(key, report[key]) for key, _ in METRIC_COLUMNS))
    console.print(table)
