"""The container's share of a bitstream: header, records' own bytes, seek index and trailer.

    python benchmarks/container_overhead.py [--model cmfr-s] [--size 256x256] [--frames 20]
                                            [--quality 63] [--intra-period 10]
    python benchmarks/container_overhead.py --file FILE.bin

Encodes the example clip scaled to ``--size`` (the sequence tests/test_pipeline.py compares
with the model's estimated bits), or reads ``--file``, and splits the file into sub-stream
payload and container overhead (docs/bitstream.md, section 11).  ``--model random-tiny`` is a
randomly initialised tiny model with a fixed seed (real container, unrepresentative payloads).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from clips import scaled_example_frames, write_raw_yuv  # noqa: E402
from fuzzing import tiny_model  # noqa: E402

from cmfr_codec.bitstream import BitstreamReader, FrameType  # noqa: E402
from cmfr_codec.io import open_video  # noqa: E402
from cmfr_codec.pipeline import encode_video  # noqa: E402
from cmfr_codec.weights import find_weights, load_model  # noqa: E402


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=None, help="analyse this bitstream instead of encoding one")
    parser.add_argument("--model", default="cmfr-s", help="NAME|PATH of weights, or random-tiny (default cmfr-s)")
    parser.add_argument("--size", default="256x256", help="frame size WxH (default 256x256)")
    parser.add_argument("--frames", type=int, default=20, help="frames to encode (default 20)")
    parser.add_argument("--quality", type=int, default=63, help="quality index (default 63)")
    parser.add_argument("--intra-period", type=int, default=10, help="I-frame period (default 10)")
    return parser.parse_args()


def encode(arguments: argparse.Namespace, folder: Path) -> Path:
    width, height = (int(value) for value in arguments.size.split("x"))
    if arguments.model == "random-tiny":
        model = tiny_model(folder)
    else:
        model = load_model(find_weights(arguments.model))
    source = write_raw_yuv(folder / f"clip_{width}x{height}_25.yuv",
                           scaled_example_frames(arguments.frames, width, height))
    with open_video(source) as reader:
        encode_video(reader, folder / "clip.bin", model, arguments.quality, arguments.intra_period)
    return folder / "clip.bin"


def report(path: Path, console: Console) -> None:
    with BitstreamReader(path) as reader:
        header, header_bytes, file_size = reader.header, reader.header_bytes, reader.file_size
        records = list(reader.scan())
        overhead = reader.overhead_bytes()
        index_bytes = file_size - header_bytes - sum(record.record_bytes for record in records) - 16
    console.print(f"{header.width}x{header.height}, {header.frame_count} frames, model {header.model_name}, "
                  f"quality {header.quality_index}, intra period {header.intra_period}; "
                  f"machine {platform.machine()}")
    table = Table(title=f"{path.name}: {file_size} bytes")
    for column in ("part", "count", "overhead bytes each", "overhead bytes", "payload bytes each"):
        table.add_column(column, justify="left" if column == "part" else "right")
    table.add_row("header", "1", str(header_bytes), str(header_bytes), "")
    for frame_type in FrameType:
        chosen = [record for record in records if record.frame_type is frame_type]
        if not chosen:
            continue
        payloads = [sum(record.substream_sizes.values()) for record in chosen]
        costs = [record.record_bytes - payload for record, payload in zip(chosen, payloads, strict=True)]
        table.add_row(f"{frame_type.name.lower()} records", str(len(chosen)),
                      f"{min(costs)}..{max(costs)} (mean {statistics.mean(costs):.1f})", str(sum(costs)),
                      f"{min(payloads)}..{max(payloads)} (mean {statistics.mean(payloads):.0f})")
    table.add_row("seek index", "1", str(index_bytes), str(index_bytes), "")
    table.add_row("trailer", "1", "16", "16", "")
    table.add_row("all", "", "", str(overhead), str(file_size - overhead), style="bold")
    console.print(table)
    console.print(f"container overhead: {overhead} of {file_size} bytes ({100 * overhead / file_size:.2f}%)")


def main() -> None:
    arguments = parse_arguments()
    console = Console(width=110)
    if arguments.file is not None:
        report(arguments.file, console)
        return
    with tempfile.TemporaryDirectory() as temporary:
        report(encode(arguments, Path(temporary)), console)


if __name__ == "__main__":
    main()
