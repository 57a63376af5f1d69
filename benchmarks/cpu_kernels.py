"""Why the CPU coding path is built the way it is: convolution kernels, page faults, bfloat16 drift.

    python benchmarks/cpu_kernels.py [--frames 10]

1. One-thread throughput (GMAC/s) of 3x3 convolutions of the shapes cmfr-s runs at 832x480, under
   torch's fallback kernel (oneDNN off), oneDNN on planar tensors, oneDNN channels-last (what
   coding uses), and oneDNN channels-last in bfloat16.
2. The cost of touching fresh memory: filling a newly allocated 200 MB tensor, per 4 KiB page.
3. What bfloat16 would do to pictures: the example clip coded with the shipped cmfr-s (one I-frame,
   then P-frames, quality 32) with and without ``torch.autocast(bfloat16)``, PSNR-Y per frame.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import torch

SHAPES = (
    # (in, out, height, width): half-resolution grid of 832x480 and below
    (48, 48, 256, 416),
    (64, 64, 128, 208),
    (16, 32, 256, 416),
)


def _median_seconds(module: torch.nn.Module, x: torch.Tensor, repeats: int = 5) -> float:
    module(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        module(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def convolution_rates() -> list[tuple[str, dict[str, float]]]:
    """GMAC/s per shape and kernel on one thread."""
    torch.set_num_threads(1)
    rows = []
    for in_channels, out_channels, height, width in SHAPES:
        conv = torch.nn.Conv2d(in_channels, out_channels, 3, padding=1).eval()
        x = torch.randn(1, in_channels, height, width)
        macs = in_channels * out_channels * 9 * height * width / 1e9
        rates = {}
        with torch.no_grad():
            torch.backends.mkldnn.enabled = False
            rates["fallback"] = macs / _median_seconds(conv, x)
            torch.backends.mkldnn.enabled = True
            rates["oneDNN planar"] = macs / _median_seconds(conv, x)
            last = conv.to(memory_format=torch.channels_last)
            x_last = x.contiguous(memory_format=torch.channels_last)
            rates["oneDNN channels-last"] = macs / _median_seconds(last, x_last)
            half = torch.nn.Conv2d(in_channels, out_channels, 3, padding=1).to(torch.bfloat16)
            half = half.to(memory_format=torch.channels_last)
            x_half = x_last.to(torch.bfloat16)
            rates["oneDNN channels-last bf16"] = macs / _median_seconds(half, x_half)
        rows.append((f"{in_channels}->{out_channels} at {height}x{width}", rates))
    return rows


def page_fault_microseconds() -> tuple[float, int]:
    """Microseconds per minor page fault when filling a fresh 200 MB tensor, and the faults counted."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    torch.empty(50_000_000).fill_(1.0)
    seconds = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    return seconds / max(faults, 1) * 1e6, faults


def bfloat16_drift(frames: int) -> tuple[list[float], list[float]]:
    """PSNR-Y per frame of the example clip coded in fp32 and under bfloat16 autocast."""
    import av

    from cmfr_codec.io.pyav import frame_planes
    from cmfr_codec.pipeline import SequenceEncoder
    from cmfr_codec.weights import find_weights, load_model

    example = Path(__file__).resolve().parents[1] / "examples" / "city_416x240_25fps.mkv"
    with av.open(str(example)) as container:
        clip = [frame_planes(frame) for _, frame in zip(range(frames), container.decode(video=0), strict=False)]
    model = load_model(find_weights("cmfr-s"), "cpu")
    curves = []
    for precision in (None, torch.bfloat16):
        encoder = SequenceEncoder(model, 32, intra_period=0)
        curve = []
        for frame in clip:
            with torch.autocast("cpu", dtype=precision or torch.bfloat16, enabled=precision is not None):
                _, reconstruction = encoder.encode(frame)
            error = np.mean((reconstruction.y.astype(np.float64) - frame.y) ** 2)
            curve.append(10 * np.log10(255.0**2 / error))
        curves.append(curve)
    return curves[0], curves[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10)
    arguments = parser.parse_args()
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, one thread")
    print("\n3x3 convolution throughput, GMAC/s")
    for label, rates in convolution_rates():
        print(f"  {label:24s} " + "  ".join(f"{kernel} {rate:5.1f}" for kernel, rate in rates.items()))
    microseconds, faults = page_fault_microseconds()
    print(f"\nfresh memory: {microseconds:.1f} us per page fault ({faults} faults filling 200 MB)")
    fp32, bf16 = bfloat16_drift(arguments.frames)
    print(f"\nexample clip, {arguments.frames} frames, quality 32, PSNR-Y dB per frame")
    print("  fp32     " + " ".join(f"{value:5.2f}" for value in fp32))
    print("  bfloat16 " + " ".join(f"{value:5.2f}" for value in bf16))


if __name__ == "__main__":
    main()
