"""Peak memory of encoding and decoding at 1080p and 4K: resident memory (CPU) and GPU memory.

    python benchmarks/memory.py [--sizes 1920x1080,3840x2160] [--frames 2] [--device cpu|cuda]
                                [--threads N] [--model cmfr-s] [--write-docs]

Each encode and each decode runs in its own child process, as ``cmfr encode`` / ``cmfr decode``
do (the real pipeline, container and files), on ``--frames`` frames of the example clip scaled
to each size: one I-frame, then P-frames, so the peak covers both frame types.  The peak
resident set size (``ru_maxrss`` of the child, everything the process touched: Python, torch,
the model, the frames) and, on a GPU, torch's peak allocated GPU memory are reported, with the
child's wall time.  ``--write-docs`` rewrites the marked block of docs/performance.md: the CPU
block (``memory-table``), or with ``--device cuda`` the GPU block (``memory-table-gpu``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import clip_frames, machine_line, replace_marked_block, write_source  # noqa: E402

from cmfr_codec.errors import InputError  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
DOCS_BEGIN, DOCS_END = "<!-- memory-table:begin -->", "<!-- memory-table:end -->"
GPU_DOCS_BEGIN, GPU_DOCS_END = "<!-- memory-table-gpu:begin -->", "<!-- memory-table-gpu:end -->"

CHILD = """
import sys, torch
from pathlib import Path
from cmfr_codec.models.stripes import set_worker_count
from cmfr_codec.weights import find_weights, load_model
from cmfr_codec.pipeline import encode_video, decode_video
from cmfr_codec.io import open_video
from cmfr_codec.bitstream import BitstreamReader
direction, source, bitstream, output, device, threads, weights = sys.argv[1:8]
if threads != "all":
    set_worker_count(int(threads))
model = load_model(find_weights(weights), device)
if direction == "encode":
    with open_video(Path(source)) as reader:
        encode_video(reader, Path(bitstream), model, 32, 32)
else:
    with BitstreamReader(Path(bitstream)) as reader:
        decode_video(reader, Path(output), model)
peak = torch.cuda.max_memory_allocated() if device == "cuda" else 0
print(peak)
"""


def run_child(direction: str, source: Path, bitstream: Path, output: Path, device: str,
              threads: str, weights: str = "cmfr-s") -> tuple[float, float, float]:
    """(peak RSS MiB, peak GPU MiB, wall s) of one encode or decode in a fresh process."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", CHILD, direction, str(source), str(bitstream), str(output),
                                  device, threads, weights], stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage, peak RSS included
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        if child.returncode != 0:
            lines = stderr.read().strip().splitlines()
            raise SystemExit(f"{direction} failed: {lines[-1] if lines else child.returncode}")
        return usage.ru_maxrss / 1024, int(stdout.read().split()[-1]) / 2**20, wall


def measure(size: str, frames: int, device: str, threads: str, folder: Path,
            weights: str = "cmfr-s") -> list[tuple[str, ...]]:
    """Rows (size, direction, peak RSS, peak GPU, wall) for one frame size."""
    width, height = (int(value) for value in size.split("x"))
    source = write_source(folder, clip_frames(width, height, frames))
    bitstream, output = folder / f"{size}.bin", folder / f"{size}.yuv"
    rows = []
    for direction in ("encode", "decode"):
        rss, gpu, wall = run_child(direction, source, bitstream, output, device, threads, weights)
        rows.append((size, direction, f"{rss:,.0f}", f"{gpu:,.0f}" if device == "cuda" else "-", f"{wall:.1f}"))
    for path in (source, bitstream, output):
        path.unlink(missing_ok=True)
    return rows


def format_table(rows: list[tuple[str, ...]]) -> str:
    header = ("size", "direction", "peak RSS MiB", "peak GPU MiB", "wall s")
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
                     for row in [header, *rows])


def replace_block(text: str, block: str, markers: tuple[str, str] = (DOCS_BEGIN, DOCS_END)) -> str:
    """``text`` with everything between the ``markers`` (begin, end) replaced by ``block`` (speed.py's
    replacement); a page without them stops the script with one line."""
    try:
        return replace_marked_block(text, block, markers)
    except InputError as error:
        raise SystemExit(f"docs/performance.md: {error}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1920x1080,3840x2160")
    parser.add_argument("--frames", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", default="all", help="workers of the striped convolutions (default: all cores)")
    parser.add_argument("--model", default="cmfr-s",
                        help="weights: a name or either .cmfrw file of a pair (default: cmfr-s, the shipped ones)")
    parser.add_argument("--write-docs", action="store_true")
    arguments = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in arguments.sizes.split(","):
            rows.extend(measure(size, arguments.frames, arguments.device, arguments.threads, Path(folder),
                                arguments.model))
            print("\n".join(format_table(rows).splitlines()[-2:]), flush=True)
    table = format_table(rows)
    machine = machine_line((arguments.device,))
    command = " ".join(["python", "benchmarks/memory.py", *map(shlex.quote, sys.argv[1:])])
    print(f"machine: {machine}\n{table}")
    if arguments.write_docs:
        block = (f"Made on {datetime.date.today().isoformat()} by\n\n```\n{command}\n```\n\non {machine}; "
                 f"{arguments.frames} frames (one I-frame, then P-frames), model {arguments.model}, quality 32.\n\n"
                 f"```\n{table}\n```\n")
        markers = (GPU_DOCS_BEGIN, GPU_DOCS_END) if arguments.device == "cuda" else (DOCS_BEGIN, DOCS_END)
        DOCS.write_text(replace_block(DOCS.read_text(), block, markers))


if __name__ == "__main__":
    main()
