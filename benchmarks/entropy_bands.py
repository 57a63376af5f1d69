"""Entropy coding of one large latent in row bands: time and size against the band count and workers.

    python benchmarks/entropy_bands.py [--size 1920x1080] [--quality 63] [--bands 1,2,4,8] [--workers 1,N]

The latent is real: the first frame of the example clip, scaled to ``--size`` by FFmpeg, coded as
an I-frame by the shipped cmfr-s; its four quadtree steps' symbols and scale-table indices are
captured and then coded alone, cut into each ``--bands`` count (cmfr_codec/entropy/bands.py), by
this process alone (1 worker) or with a pool of worker processes (N, default every core).  Each
figure is the median of ``--repeats`` runs after one warm-up run; "encode" is the bands' pushes,
"decode" their pops, step by step as the decoder does (the step networks are not run here, so
this is the entropy coder's share alone).  Bytes include every band's ANS tail.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from cmfr_codec.entropy import open_coder
from cmfr_codec.entropy.bands import BandDecoder, StepBand, band_limit, band_rows, encode_bands
from cmfr_codec.io import parse_size
from cmfr_codec.models.latent_codecs import QuadtreeContextCodec
from cmfr_codec.pipeline import frame_to_tensor
from cmfr_codec.weights import find_weights, load_model

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import clip_frames, machine_line  # noqa: E402


def captured_steps(width: int, height: int, quality: int) -> list[tuple[str, int, np.ndarray, np.ndarray]]:
    """(distribution, skip, symbols, indices) of each quadtree step of the I-frame latent."""
    frame = clip_frames(width, height, 1)[0]
    model = load_model(find_weights("cmfr-s"), "cpu")
    captured = []
    original = QuadtreeContextCodec.quantize

    def quantize(self, y, common_params):
        y_hat, coded = original(self, y, common_params)
        captured.extend((codec.distribution, codec.skip_below_index, symbols, indices)
                        for codec, symbols, indices in coded)
        return y_hat, coded

    QuadtreeContextCodec.quantize = quantize
    try:
        model.codec.intra.compress(frame_to_tensor(frame, "cpu"), quality)
    finally:
        QuadtreeContextCodec.quantize = original
    return captured


def run(steps: list[tuple[str, int, np.ndarray, np.ndarray]], count: int, workers: int) -> tuple[float, float, int]:
    """Seconds to encode, seconds to decode, bytes: the steps cut into ``count`` bands."""
    rows = band_rows(steps[0][2].shape[-2], count)
    bands = [[StepBand(distribution, skip, symbols[..., band, :], indices[..., band, :])
              for distribution, skip, symbols, indices in steps] for band in rows]
    started = time.perf_counter()
    data = encode_bands(bands, workers)
    encoded = time.perf_counter()
    decoder = BandDecoder(open_coder(data[0]), data[1:], workers)
    for distribution, skip, symbols, indices in steps:
        decoded = decoder.pop(distribution, skip, [indices[..., band, :] for band in rows])
        if not np.array_equal(np.concatenate(decoded, axis=-2), symbols):
            raise SystemExit("error: bands decoded to other symbols")
    decoder.finish()
    return encoded - started, time.perf_counter() - encoded, sum(len(band) for band in data)


def main(argv: list[str] | None = None) -> int:
    cores = len(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1920x1080", help="frame size (default: 1920x1080)")
    parser.add_argument("--quality", type=int, default=63, help="quality index (default: 63)")
    parser.add_argument("--bands", default="1,2,4,8", help="band counts (default: 1,2,4,8)")
    parser.add_argument("--workers", default=f"1,{cores}", help=f"worker counts (default: 1,{cores})")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (default: 5)")
    arguments = parser.parse_args(argv)
    width, height = parse_size(arguments.size)
    torch.set_num_threads(cores)
    steps = captured_steps(width, height, arguments.quality)
    rows = steps[0][2].shape[-2]
    symbols = sum(step[2].size for step in steps)
    nonzero = sum(int(np.count_nonzero(step[2])) for step in steps)
    print(f"machine: {machine_line(('cpu',))}")
    print(f"{width}x{height} I-frame latent at quality {arguments.quality}: {symbols} symbols ({nonzero} nonzero) "
          f"in 4 steps of {rows} rows; at most {band_limit(rows)} bands")
    print("| bands | workers | encode (ms) | decode (ms) | bytes |")
    print("|---:|---:|---:|---:|---:|")
    for count in (int(value) for value in arguments.bands.split(",")):
        if count > band_limit(rows):
            continue
        for workers in (int(value) for value in arguments.workers.split(",")):
            run(steps, count, workers)
            timings = [run(steps, count, workers) for _ in range(arguments.repeats)]
            encode = statistics.median(timing[0] for timing in timings)
            decode = statistics.median(timing[1] for timing in timings)
            print(f"| {count} | {workers} | {1000 * encode:.1f} | {1000 * decode:.1f} | {timings[0][2]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
