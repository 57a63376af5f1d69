"""Throughput and rate of the entropy layer on a 1080p-sized latent.

    python benchmarks/entropy.py

The latent is ``channels x height x width`` symbols (default 192 x 68 x 120: a 1920x1080
frame padded to 1088 rows, at 1/16 of luma resolution).  Scales are log-uniform over
0.01 .. 31.6 (about 30% of them below the table's smallest scale, as in trained latents,
where many channels are nearly dead); symbols are drawn from the distribution at those
scales.  Speeds count every latent position, coded or skipped, so skipping shows up as speed.
The baseline row codes the same symbols with constriction's per-symbol quantised models.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import constriction
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cmfr_codec.entropy import ConditionalCoder  # noqa: E402

FRAME_PIXELS = 1920 * 1080


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=192)
    parser.add_argument("--height", type=int, default=68)
    parser.add_argument("--width", type=int, default=120)
    parser.add_argument("--skip-below-index", type=int, default=4,
                        help="table index below which symbols are skipped in the skipping rows (default 4)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row; the median is shown")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="also time constriction's per-symbol QuantizedGaussian / QuantizedLaplace")
    return parser.parse_args()


def latent(distribution: str, shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Float32 scales and integer symbols drawn at those scales."""
    rng = np.random.default_rng(seed)
    scales = (10.0 ** rng.uniform(-2.0, 1.5, shape)).astype(np.float32)
    noise = rng.normal(0.0, scales) if distribution == "gaussian" else rng.laplace(0.0, scales)
    return scales, np.rint(noise).astype(np.int32)


def median_seconds(action, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def grouped_row(coder: ConditionalCoder, scales: np.ndarray, symbols: np.ndarray, skip: int,
                repeats: int) -> dict:
    indices = coder.scale_table.index(scales)
    data = coder.encode(symbols, indices, skip)
    decoded = coder.decode(data, indices, skip)
    if not np.array_equal(decoded, np.where(coder.skip_mask(indices, skip), 0, symbols)):
        raise SystemExit("round trip failed")
    return {
        "method": f"grouped, skip below index {skip}" if skip else "grouped, no skip",
        "skipped": float(coder.skip_mask(indices, skip).mean()),
        "encode": median_seconds(lambda: coder.encode(symbols, indices, skip), repeats),
        "decode": median_seconds(lambda: coder.decode(data, indices, skip), repeats),
        "bits": len(data) * 8,
        "ideal": coder.ideal_bits(symbols, indices, skip),
    }


def per_symbol_row(distribution: str, scales: np.ndarray, symbols: np.ndarray, repeats: int) -> dict:
    """constriction's per-symbol quantised model: one model evaluation per symbol."""
    flat_symbols = symbols.reshape(-1)
    means = np.zeros(flat_symbols.size, dtype=np.float64)
    widths = np.maximum(scales.reshape(-1), 0.11).astype(np.float64)
    bound = int(np.abs(flat_symbols).max()) + 1
    family = (constriction.stream.model.QuantizedGaussian if distribution == "gaussian"
              else constriction.stream.model.QuantizedLaplace)(-bound, bound)

    def encode() -> np.ndarray:
        coder = constriction.stream.stack.AnsCoder()
        coder.encode_reverse(flat_symbols, family, means, widths)
        return coder.get_compressed()

    words = encode()
    return {
        "method": "per-symbol constriction model",
        "skipped": 0.0,
        "encode": median_seconds(encode, repeats),
        "decode": median_seconds(
            lambda: constriction.stream.stack.AnsCoder(words).decode(family, means, widths), repeats),
        "bits": words.size * 32,
        "ideal": None,
    }


def main() -> None:
    arguments = parse_arguments()
    shape = (arguments.channels, arguments.height, arguments.width)
    positions = int(np.prod(shape))
    print(f"machine: {platform.machine()} {platform.processor() or ''}".rstrip()
          + f", {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}, "
          f"constriction {importlib.metadata.version('constriction')}")
    print(f"latent: {shape[0]} x {shape[1]} x {shape[2]} = {positions:,} symbols; "
          f"median of {arguments.repeats} runs; bpp over a 1920x1080 frame\n")
    print("| distribution | method | skipped | encode ms | encode M/s | decode ms | decode M/s "
          "| bits | bits / ideal | bpp |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for distribution in ("gaussian", "laplace"):
        coder = ConditionalCoder(distribution)
        scales, symbols = latent(distribution, shape, arguments.seed)
        rows = [grouped_row(coder, scales, symbols, skip, arguments.repeats)
                for skip in (0, arguments.skip_below_index)]
        if arguments.baseline:
            rows.append(per_symbol_row(distribution, scales, symbols, arguments.repeats))
        for row in rows:
            versus_ideal = "n/a" if row["ideal"] is None else f"{row['bits'] / row['ideal']:.5f}"
            print(f"| {distribution} | {row['method']} | {row['skipped']:.1%} "
                  f"| {row['encode'] * 1e3:.1f} | {positions / row['encode'] / 1e6:.1f} "
                  f"| {row['decode'] * 1e3:.1f} | {positions / row['decode'] / 1e6:.1f} "
                  f"| {row['bits']:,} | {versus_ideal} | {row['bits'] / FRAME_PIXELS:.4f} |")


if __name__ == "__main__":
    main()
