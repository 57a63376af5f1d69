"""Time of the per-frame metrics at common frame sizes.

    python benchmarks/metrics.py [--repeats 5]

Frames are real content: the example clip's frames tiled up to each size, and the "decoded"
frame is that frame with mild noise. Prints the median of ``--repeats`` calls for each metric.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch

from cmfr_codec.io import open_video
from cmfr_codec.io.frames import YuvFrame
from cmfr_codec.metrics import ms_ssim_planes, psnr_planes, psnr_rgb, score_frame

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "city_416x240_25fps.mkv"
SIZES = ((416, 240), (832, 480), (1920, 1080))


def tiled(frame: YuvFrame, width: int, height: int) -> YuvFrame:
    def tile(plane: np.ndarray, rows: int, columns: int) -> np.ndarray:
        reps = (-(-rows // plane.shape[0]), -(-columns // plane.shape[1]))
        return np.ascontiguousarray(np.tile(plane, reps)[:rows, :columns])

    chroma = ((height + 1) // 2, (width + 1) // 2)
    return YuvFrame(tile(frame.y, height, width), tile(frame.u, *chroma), tile(frame.v, *chroma))


def noisy(frame: YuvFrame, seed: int = 0) -> YuvFrame:
    rng = np.random.default_rng(seed)
    return YuvFrame(*(np.clip(p.astype(np.int16) + rng.integers(-3, 4, p.shape), 0, 255).astype(np.uint8)
                      for p in frame.planes()))


def median_seconds(call: Callable[[], object], repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    with open_video(EXAMPLE, frames=1) as reader:
        source = next(iter(reader))
    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} "
          f"torch={torch.__version__} threads={torch.get_num_threads()}")
    print(f"{'size':>10} {'PSNR planes':>12} {'PSNR-RGB':>10} {'MS-SSIM':>10} {'score_frame':>12}   (median seconds)")
    for width, height in SIZES:
        reference = tiled(source, width, height)
        decoded = noisy(reference)
        row = [median_seconds(partial(metric, reference, decoded), arguments.repeats)
               for metric in (psnr_planes, psnr_rgb, ms_ssim_planes, score_frame)]
        print(f"{width}x{height:<5} {row[0]:12.4f} {row[1]:10.4f} {row[2]:10.4f} {row[3]:12.4f}")


if __name__ == "__main__":
    main()
