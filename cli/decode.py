"""``cmfr decode``: bitstream in, video out."""

from __future__ import annotations

from pathlib import Path

import click

from .options import device_option, threads_option
from .paths import check_distinct, check_video_output
from .summary import report_totals


@click.command()
@click.argument("input_path", metavar="INPUT.bin", type=click.Path(path_type=Path))
@click.argument("output_path", metavar="OUTPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--model",
    default=None,
    metavar="NAME|PATH",
    help="Weights to decode with (default: the model the bitstream names). Weights whose digest "
    "differs from the one in the bitstream are refused.",
)
@device_option
@threads_option
def decode(input_path: Path, output_path: Path, model: str | None, device: str) -> None:
    """Decode INPUT.bin into OUTPUT (.yuv, .y4m, or lossless .mkv, chosen by extension).

    The whole file is checked (structure and every frame's CRC) before decoding starts, so a
    damaged bitstream fails without writing anything.
    """
    from cmfr_codec.bitstream import BitstreamReader
    from cmfr_codec.device import resolve_device
    from cmfr_codec.pipeline import decode_video
    from cmfr_codec.progress import CodingProgress
    from cmfr_codec.weights import check_weights_match, load_model

    check_distinct(input_path, output_path)
    check_video_output(output_path)
    target = resolve_device(device)
    with BitstreamReader(input_path) as reader:
        reader.verify()
        header = reader.header
        weights = check_weights_match(model or header.model_name, header.weights_digest)
        loaded = load_model(weights, target)
        with CodingProgress("decoding", header.frame_count, float(header.fps)) as progress:
            result = decode_video(reader, output_path, loaded, progress.update)
    report_totals("decoded", result, header.width, header.height, header.fps, input_path)
