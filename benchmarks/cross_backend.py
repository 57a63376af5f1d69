"""Encode under one CPU backend, decode under another, and compare with the encoder's reconstruction.

    python benchmarks/cross_backend.py [--input CLIP] [--frames 10] [--quality 40] [--model NAME|PATH]

Backends: torch's default CPU kernels, and ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2``
(scalar ATen kernels, oneDNN limited to AVX2).  Each direction runs ``cmfr encode --recon`` in one
process and ``cmfr decode`` in another, and prints whether decoding succeeded and how the decoded
8-bit samples compare with the encoder's ``--recon``: the symbols must always decode (the integer
path, docs/determinism.md); the pictures may differ in rare samples by rounding.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from cmfr_codec.io import open_video

REPO = Path(__file__).resolve().parents[1]
BACKENDS = {
    "default": {},
    "scalar+avx2": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}


def cmfr(backend: str, *arguments: object) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}
    environment.update(BACKENDS[backend])
    return subprocess.run([sys.executable, "-m", "cmfr_codec", *map(str, arguments)], env=environment,
                          capture_output=True, text=True, cwd=REPO, check=False)


def compare(first: Path, second: Path) -> tuple[int, int, int]:
    """(samples, samples that differ, largest difference) over all planes of all frames."""
    samples = differing = largest = 0
    with open_video(first) as a, open_video(second) as b:
        for frame_a, frame_b in zip(a, b, strict=True):
            for plane_a, plane_b in zip(frame_a.planes(), frame_b.planes(), strict=True):
                difference = np.abs(plane_a.astype(np.int16) - plane_b.astype(np.int16))
                samples += difference.size
                differing += int(np.count_nonzero(difference))
                largest = max(largest, int(difference.max()))
    return samples, differing, largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=REPO / "examples" / "city_416x240_25fps.mkv",
                        help="clip to code (default: the example clip)")
    parser.add_argument("--frames", type=int, default=10, help="frames to code (default: 10)")
    parser.add_argument("--quality", type=int, default=40, help="quality index (default: 40)")
    parser.add_argument("--intra-period", type=int, default=0, help="intra period (default: 0, only frame 0)")
    parser.add_argument("--model", default="cmfr-s", help="model name or weights path (default: cmfr-s)")
    arguments = parser.parse_args()
    console = Console()
    table = Table(title=f"{arguments.input.name}, {arguments.frames} frames, quality {arguments.quality}")
    for column in ("encoder", "decoder", "decoded", "samples differing from --recon", "largest difference"):
        table.add_column(column)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for encoder, decoder in (("default", "scalar+avx2"), ("scalar+avx2", "default")):
            stream, recon, decoded = work / f"{encoder}.bin", work / f"{encoder}.y4m", work / f"{decoder}-of-{encoder}.y4m"
            done = cmfr(encoder, "encode", arguments.input, stream, "--recon", recon, "--frames", arguments.frames,
                        "--quality", arguments.quality, "--intra-period", arguments.intra_period,
                        "--model", arguments.model)
            if done.returncode:
                sys.exit(f"encode failed: {done.stderr.strip()}")
            done = cmfr(decoder, "decode", stream, decoded, "--model", arguments.model)
            if done.returncode:
                table.add_row(encoder, decoder, f"FAILED: {done.stderr.strip()}", "", "")
                continue
            samples, differing, largest = compare(recon, decoded)
            table.add_row(encoder, decoder, "yes", f"{differing} of {samples}", str(largest))
    console.print(table)


if __name__ == "__main__":
    main()
