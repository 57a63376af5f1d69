"""``cmfr eval``: compare codecs on sequences (BD-rate, RD plot), or score one decoded file."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.markup import escape
from rich.table import Table

from cmfr_codec.errors import InputError
from cmfr_codec.evaluation.settings import (
    BD_METHODS,
    CODECS,
    DEFAULT_AV1_CRF,
    DEFAULT_AV1_PRESET,
    DEFAULT_BD_METHOD,
    DEFAULT_CODECS,
    DEFAULT_CRF,
    DEFAULT_INTRA_PERIOD,
    DEFAULT_PRESET,
    DEFAULT_QUALITIES,
    RATE_CONTROLS,
)
from cmfr_codec.io.frames import VideoInfo

from .console import report_console
from .options import hierarchy_options, input_selection, model_selection, preset_option
from .paths import check_distinct

AVERAGING = "arithmetic mean of per-frame values"

SINGLE_PAIR_OPTIONS = ("bitstream_path", "per_frame")
COMPARISON_OPTIONS = (
    "codecs", "qualities", "crf", "rate_control", "preset", "av1_crf", "av1_preset", "intra_period",
    "cmfr_preset", "hierarchy_period", "hierarchy_boost", "model", "device", "anchor", "bd_method", "resume", "jobs",
)


def _joined(values: tuple) -> str:
    return ",".join(str(value) for value in values)


def _name_list(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in CODECS]
    if not names or unknown:
        raise click.BadParameter(
            f"unknown codec {', '.join(unknown) or '(none)'}; choose from {', '.join(CODECS)}", ctx=ctx, param=param
        )
    if len(set(names)) != len(names):
        raise click.BadParameter(f"{value} names a codec twice", ctx=ctx, param=param)
    return names


def _number_list(low: int, high: int):
    def parse(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
        try:
            numbers = tuple(int(item) for item in value.split(",") if item.strip())
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a comma-separated list of integers", ctx=ctx, param=param) from None
        if not numbers or any(not low <= number <= high for number in numbers):
            raise click.BadParameter(f"{value!r}: every value must be {low} to {high}", ctx=ctx, param=param)
        if len(set(numbers)) != len(numbers):
            raise click.BadParameter(f"{value!r} repeats a value", ctx=ctx, param=param)
        return tuple(sorted(numbers))

    return parse


@click.command("eval")
@click.argument("input_paths", metavar="INPUT...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--codecs",
    default=_joined(DEFAULT_CODECS),
    show_default=True,
    callback=_name_list,
    metavar="LIST",
    help=f"Codecs to compare, comma-separated, from {', '.join(CODECS)}.",
)
@click.option(
    "--qualities",
    default=_joined(DEFAULT_QUALITIES),
    show_default=True,
    callback=_number_list(0, 63),
    metavar="LIST",
    help="cmfr quality indices (0..63); the default is the model's four trained anchors.",
)
@click.option(
    "--crf",
    default=_joined(DEFAULT_CRF),
    show_default=True,
    callback=_number_list(0, 51),
    metavar="LIST",
    help="x264 and x265 rate points (CRF, or QP with --rate-control qp); the default is the JCT-VC test QPs.",
)
@click.option(
    "--rate-control",
    type=click.Choice(RATE_CONTROLS),
    default="crf",
    show_default=True,
    help="How x264 and x265 use the --crf values: constant rate factor or constant QP.",
)
@click.option(
    "--preset",
    default=DEFAULT_PRESET,
    show_default=True,
    metavar="NAME",
    help="x264 and x265 speed preset (ultrafast ... placebo).",
)
@click.option(
    "--av1-crf",
    default=_joined(DEFAULT_AV1_CRF),
    show_default=True,
    callback=_number_list(1, 63),
    metavar="LIST",
    help="SVT-AV1 CRF rate points (1..63).",
)
@click.option(
    "--av1-preset",
    type=click.IntRange(-1, 13),
    default=DEFAULT_AV1_PRESET,
    show_default=True,
    metavar="N",
    help="SVT-AV1 speed preset (-1 slowest .. 13 fastest).",
)
@click.option(
    "--intra-period",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help=f"An I-frame every N frames for every codec; 0 = only the first frame (default: the dataset "
    f"config's intra_period, else {DEFAULT_INTRA_PERIOD}).",
)
@input_selection
@preset_option("--cmfr-preset")
@hierarchy_options("--cmfr-")
@model_selection
@click.option("--msssim/--no-msssim", default=True, show_default=True, help="Compute MS-SSIM (Y and YUV 6:1:1).")
@click.option(
    "--anchor",
    type=click.Choice(CODECS),
    default=None,
    help="Codec the BD-rates are measured against (default: x264 when compared, else the first codec).",
)
@click.option(
    "--bd-method",
    type=click.Choice(BD_METHODS),
    default=DEFAULT_BD_METHOD,
    show_default=True,
    help="Interpolation of the RD curves for BD-rate (bjontegaard package).",
)
@click.option(
    "--output",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="REPORT.json",
    help="Write the report as JSON, with REPORT.csv and the RD curves REPORT.png beside it "
    "(default: only the table on stdout).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Keep the entries of an existing REPORT.json that match this run, code only the rest, and "
    "rewrite the report after every job so an interrupted run can be resumed (default: off).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Run N jobs at once in worker processes; results are the same as with 1.",
)
@click.option(
    "--decoded",
    "decoded_path",
    type=click.Path(path_type=Path),
    default=None,
    metavar="PATH",
    help="Instead of comparing codecs, score this decoded video against the one INPUT (.yuv, .y4m or "
    "anything PyAV opens; raw .yuv takes INPUT's size) (default: compare codecs).",
)
@click.option(
    "--bitstream",
    "bitstream_path",
    type=click.Path(path_type=Path),
    default=None,
    metavar="FILE",
    help="With --decoded: coded file whose size gives bpp and kbps (default: no rate reported).",
)
@click.option("--per-frame", is_flag=True, help="With --decoded: print a row per frame (default: summary only).")
@click.pass_context
def evaluate(ctx: click.Context, input_paths: tuple[Path, ...], decoded_path: Path | None, **options: Any) -> None:
    """Compare codecs on INPUT... (video files, folders of them, or a DCVC dataset config .json):
    each codec codes every sequence at each rate point, the coded data is decoded, and the decoded
    8-bit frames are scored against the source (PSNR Y/U/V/YUV, PSNR-RGB, MS-SSIM, bpp, kbps,
    encode/decode fps). Prints class-average RD points and BD-rates against --anchor.

    \b
      cmfr eval clip.y4m --codecs cmfr,x264,x265 --frames 10 --output report.json
      cmfr eval hevc_classes.json --codecs cmfr,x264 --jobs 2 --output hevc.json --resume

    With --decoded, score one decoded video against its source INPUT instead.
    Sequence scores are the arithmetic mean of per-frame values.
    """
    if decoded_path is not None:
        _refuse(ctx, COMPARISON_OPTIONS, "cannot be used with --decoded")
        if len(input_paths) != 1:
            raise click.UsageError("--decoded scores one INPUT; give exactly one", ctx=ctx)
        _score_decoded(input_paths[0], decoded_path, **{key: options[key] for key in _SINGLE_PAIR_KEYS})
        return
    _refuse(ctx, SINGLE_PAIR_OPTIONS, "only works with --decoded")
    _compare(input_paths, **{key: value for key, value in options.items() if key not in SINGLE_PAIR_OPTIONS})


_SINGLE_PAIR_KEYS = ("bitstream_path", "size", "fps", "frames", "skip", "msssim", "per_frame", "report_path")


def _refuse(ctx: click.Context, names: tuple[str, ...], why: str) -> None:
    for parameter in ctx.command.params:
        if parameter.name in names and ctx.get_parameter_source(parameter.name) is ParameterSource.COMMANDLINE:
            raise click.UsageError(f"{parameter.opts[0]} {why}", ctx=ctx)


def _compare(
    input_paths: tuple[Path, ...],
    *,
    codecs: tuple[str, ...],
    qualities: tuple[int, ...],
    crf: tuple[int, ...],
    rate_control: str,
    preset: str,
    av1_crf: tuple[int, ...],
    av1_preset: int,
    intra_period: int | None,
    size: tuple[int, int] | None,
    fps,
    frames: int | None,
    skip: int,
    cmfr_preset: str,
    hierarchy_period: int,
    hierarchy_boost: int,
    model: str,
    device: str,
    msssim: bool,
    anchor: str | None,
    bd_method: str,
    report_path: Path | None,
    resume: bool,
    jobs: int,
) -> None:
    from cmfr_codec.device import resolve_device
    from cmfr_codec.evaluation.compare import Comparison, plan, run_comparison
    from cmfr_codec.evaluation.report import csv_path, finished_entries, plot_path
    from cmfr_codec.evaluation.settings import CodecSettings
    from cmfr_codec.hierarchy import QualityHierarchy
    from cmfr_codec.progress import frame_progress

    if report_path is not None:
        if report_path.suffix.lower() != ".json":
            raise InputError(f"--output {report_path}: the report is JSON; name it REPORT.json")
        check_distinct(*input_paths, report_path, csv_path(report_path), plot_path(report_path))
    settings = CodecSettings(
        qualities=qualities, crf=crf, av1_crf=av1_crf, rate_control=rate_control, preset=preset,
        av1_preset=av1_preset, model=model, cmfr_preset=cmfr_preset,
        cmfr_hierarchy=QualityHierarchy(hierarchy_period, hierarchy_boost),
        device=resolve_device(device) if "cmfr" in codecs else "cpu",
    )
    comparison = Comparison(
        inputs=input_paths, codecs=codecs, settings=settings, intra_period=intra_period, frames=frames,
        skip=skip, size=size, fps=fps, msssim=msssim, anchor=anchor, bd_method=bd_method,
        output=report_path, resume=resume, processes=jobs,
    )
    comparison.check()
    planned = plan(comparison)
    reused = finished_entries(report_path, planned, msssim) if resume and report_path is not None else {}
    with frame_progress() as progress:
        task = progress.add_task("jobs", total=len(planned), completed=len(reused), status="")

        def job_done(job, entry: dict[str, Any]) -> None:
            progress.update(task, advance=1, status=escape(
                f"{job.label}: {entry['bpp']:.4f} bpp, {entry['psnr_yuv']:.2f} dB"
            ))

        report = run_comparison(comparison, planned, job_done)
    _print_comparison(report)


# ----------------------------------------------------------------------------------------------
# The terminal tables of a comparison.

POINT_COLUMNS = (
    ("bpp", "bpp", "{:.4f}"), ("kbps", "kbps", "{:.1f}"),
    ("psnr_yuv", "PSNR-YUV dB", "{:.3f}"), ("psnr_y", "PSNR-Y dB", "{:.3f}"), ("psnr_rgb", "PSNR-RGB dB", "{:.3f}"),
    ("msssim_y", "MS-SSIM-Y", "{:.5f}"), ("msssim_yuv", "MS-SSIM-YUV", "{:.5f}"),
    ("encode_fps", "enc fps", "{:.2f}"), ("decode_fps", "dec fps", "{:.2f}"),
)
BD_TITLES = {
    "psnr_yuv": "PSNR-YUV", "psnr_y": "PSNR-Y", "psnr_rgb": "PSNR-RGB", "msssim_yuv": "MS-SSIM-YUV", "msssim_y": "MS-SSIM-Y",
}
QUALITY_NAMES = {"quality_index": "q", "crf": "crf", "qp": "qp"}


def _cell(template: str, value: float | None) -> str:
    return "-" if value is None else template.format(value)


def _print_comparison(report: dict[str, Any]) -> None:
    console = report_console()
    points = Table(title="RD points (per class: mean over its sequences; per sequence: mean of per-frame values)")
    for title in ("class", "codec", "rate point", "seqs"):
        points.add_column(title, justify="left" if title in ("class", "codec") else "right")
    for _, title, _ in POINT_COLUMNS:
        points.add_column(title, justify="right")
    for point in report["class_points"]:
        points.add_row(
            escape(point["class"]), point["codec"], f"{QUALITY_NAMES[point['quality_kind']]} {point['quality']}",
            str(point["sequences"]), *(_cell(template, point.get(key)) for key, _, template in POINT_COLUMNS),
        )
    console.print(points)
    bd = report["bd_rate"]
    if not bd["per_class"]:
        return
    table = Table(title=f"BD-rate against {bd['anchor']} ({bd['method']}), % rate at equal quality (negative: fewer bits)")
    for title in ("class", "codec", "curve"):
        table.add_column(title)
    for metric in bd["metrics"]:
        table.add_column(BD_TITLES[metric], justify="right")
    for row in bd["per_class"]:
        rows = [("class-average curve", row["class_curve"])]
        if row["sequences"] > 1:
            rows.append((f"mean of {row['sequences']} sequences", row["mean_of_sequences"]))
        elif row["sequences"] == 1:
            rows = [("1 sequence", row["class_curve"])]
        for label, values in rows:
            table.add_row(escape(row["class"]), row["codec"], label,
                          *(_cell("{:+.1f}", values[metric]) for metric in bd["metrics"]))
    console.print(table)
    for row in bd["per_class"]:
        reasons: dict[str, list[str]] = {}
        for metric, note in row["notes"].items():
            reasons.setdefault(note, []).append(BD_TITLES[metric])
        for note, titles in reasons.items():
            console.print(f"{escape(row['class'])} {row['codec']}: no BD-rate for {', '.join(titles)}: {escape(note)}")


# ----------------------------------------------------------------------------------------------
# --decoded: score one decoded file against its source.


def _score_decoded(
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
