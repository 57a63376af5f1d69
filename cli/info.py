"""``cmfr info``: what a bitstream holds, without decoding it."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from cmfr_codec.errors import BitstreamError

from .console import report_console


@click.command()
@click.argument("input_path", metavar="FILE.bin", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables (default: tables).")
@click.option(
    "--frames/--no-frames",
    "show_frames",
    default=True,
    show_default=True,
    help="Show the per-frame table (type, quality, bytes, CRC status).",
)
def info(input_path: Path, as_json: bool, show_frames: bool) -> None:
    """Show the header of FILE.bin and a per-frame table with each frame's CRC status.

    Exits with code 1 when any frame fails its CRC check.
    """
    from cmfr_codec.bitstream import BitstreamReader
    from cmfr_codec.metrics import bits_per_pixel, kilobits_per_second

    with BitstreamReader(input_path) as reader:
        header = reader.header
        records = list(reader.scan())
        overhead = reader.overhead_bytes()
        file_size = reader.file_size
        index = list(reader.index)
    bpp = bits_per_pixel(file_size, header.width, header.height, header.frame_count)
    kbps = kilobits_per_second(file_size, header.frame_count, header.fps)
    summary = {
        "file": str(input_path),
        "file_bytes": file_size,
        "container_overhead_bytes": overhead,
        "model_name": header.model_name,
        "weights_digest": header.weights_digest.hex(),
        "width": header.width,
        "height": header.height,
        "fps": f"{header.fps.numerator}/{header.fps.denominator}",
        "frame_count": header.frame_count,
        "pixel_format": header.pixel_format,
        "quality_index": header.quality_index,
        "intra_period": header.intra_period,
        "bpp": bpp,
        "kbps": kbps,
        "seek_index": [{"frame": frame, "offset": offset} for frame, offset in index],
    }
    frames = [
        {
            "frame": record.frame_number,
            "type": record.frame_type.value,
            "quality_index": record.quality_index,
            "offset": record.offset,
            "bytes": record.record_bytes,
            "substreams": record.substream_sizes,
            "crc_ok": record.crc_ok,
        }
        for record in records
    ]
    if as_json:
        click.echo(json.dumps({**summary, "frames": frames if show_frames else None}, indent=2))
    else:
        _print_tables(summary, frames if show_frames else [])
    failed = [frame["frame"] for frame in frames if not frame["crc_ok"]]
    if failed:
        first = failed[0]
        raise BitstreamError(f"{len(failed)} of {len(frames)} frames failed their CRC check", frame=first)


def _print_tables(summary: dict, frames: list[dict]) -> None:
    console = report_console()
    header = Table(show_header=False, box=None, pad_edge=False)
    header.add_column(style="bold")
    header.add_column()
    for key in (
        "file", "model_name", "weights_digest", "width", "height", "fps", "frame_count", "pixel_format",
        "quality_index", "intra_period", "file_bytes", "container_overhead_bytes",
    ):
        header.add_row(key.replace("_", " "), escape(str(summary[key])))
    header.add_row("bpp", f"{summary['bpp']:.4f}")
    header.add_row("kbps", f"{summary['kbps']:.1f}")
    header.add_row("I-frames indexed", str(len(summary["seek_index"])))
    console.print(header)
    if not frames:
        return
    table = Table(title="frames")
    for column in ("frame", "type", "quality", "bytes", "sub-streams", "CRC"):
        table.add_column(column, justify="right" if column in ("frame", "quality", "bytes") else "left")
    for frame in frames:
        substreams = " ".join(f"{name}:{size}" for name, size in frame["substreams"].items())
        crc = "[green]ok[/]" if frame["crc_ok"] else "[bold red]BAD[/]"
        table.add_row(
            str(frame["frame"]), frame["type"], str(frame["quality_index"]), str(frame["bytes"]), substreams, crc
        )
    console.print(table)
