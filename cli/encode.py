"""``cmfr encode``: video in, bitstream out."""

from __future__ import annotations

from pathlib import Path

import click

from .options import (
    DEFAULT_INTRA_PERIOD,
    DEFAULT_QUALITY,
    QUALITY_RANGE,
    hierarchy_options,
    input_selection,
    model_selection,
    preset_option,
    threads_option,
)
from .paths import check_distinct, check_video_output
from .summary import report_totals


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.argument("output_path", metavar="OUTPUT.bin", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--quality",
    "-q",
    "quality_index",
    type=QUALITY_RANGE,
    default=DEFAULT_QUALITY,
    show_default=True,
    help="Quality index from 0 (fewest bits) to 63 (best quality); the I-frames and every "
    "--hierarchy-period-th P-frame are coded --hierarchy-boost indices higher (at most 63).",
)
@click.option(
    "--intra-period",
    type=click.IntRange(min=0),
    default=DEFAULT_INTRA_PERIOD,
    show_default=True,
    metavar="N",
    help="Code an I-frame every N frames; 0 makes only the first frame an I-frame.",
)
@input_selection
@click.option(
    "--recon",
    "recon_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="PATH",
    help="Also write the encoder's reconstruction (.yuv, .y4m or .mkv), like HM's -o; "
    "'cmfr decode' reproduces it bit for bit (default: not written).",
)
@preset_option("--preset")
@hierarchy_options("--")
@model_selection
@threads_option
def encode(
    input_path: Path,
    output_path: Path,
    quality_index: int,
    intra_period: int,
    size: tuple[int, int] | None,
    fps,
    frames: int | None,
    skip: int,
    recon_path: Path | None,
    cmfr_preset: str,
    hierarchy_period: int,
    hierarchy_boost: int,
    model: str,
    device: str,
) -> None:
    """Encode INPUT (.yuv, .y4m, or any video PyAV opens) into the bitstream OUTPUT.bin.

    Raw .yuv input is 8-bit 4:2:0; its size and rate come from --size/--fps or from the file
    name (Name_1920x1080_50.yuv). Other inputs are converted to yuv420p (BT.709 for RGB).
    """
    from cmfr_codec.device import resolve_device
    from cmfr_codec.hierarchy import QualityHierarchy
    from cmfr_codec.io import open_video
    from cmfr_codec.pipeline import encode_video
    from cmfr_codec.progress import CodingProgress
    from cmfr_codec.weights import find_weights, load_model

    check_distinct(input_path, output_path, recon_path)
    if recon_path is not None:
        check_video_output(recon_path)
    target = resolve_device(device)
    with open_video(input_path, size=size, fps=fps, skip=skip, frames=frames) as reader:
        loaded = load_model(find_weights(model), target)
        info = reader.info
        with CodingProgress("encoding", info.frame_count, float(info.fps)) as progress:
            result = encode_video(reader, output_path, loaded, quality_index, intra_period, recon_path,
                                  progress.update, cmfr_preset, QualityHierarchy(hierarchy_period, hierarchy_boost))
    report_totals("encoded", result, info.width, info.height, info.fps, output_path)
