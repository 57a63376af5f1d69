"""Encode and decode speed of a CMFR model on this machine, network and entropy coding apart.

    python benchmarks/coding_speed.py [--model cmfr-s] [--sizes 416x240,832x480] [--frames 8] [--device cpu]

Frames are the example clip scaled to each size (real content). A sequence of ``--frames``
frames (one I-frame, then P-frames) is encoded and decoded in memory, without file I/O.
Entropy-coding time is the time spent inside the entropy layer's coders; the rest is network.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from cmfr_codec.bitstream import FrameType
from cmfr_codec.entropy import ConditionalCoder, FactorizedCoder
from cmfr_codec.io.frames import YuvFrame
from cmfr_codec.pipeline import SequenceDecoder, SequenceEncoder
from cmfr_codec.weights import find_weights, load_model

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "city_416x240_25fps.mkv"


class EntropyTimer:
    """Wraps the entropy coders' push/pop (every coding path goes through them) to count their time."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._originals: list[tuple[type, str, Callable]] = []

    def __enter__(self) -> EntropyTimer:
        for coder in (ConditionalCoder, FactorizedCoder):
            for name in ("push", "pop"):
                original = getattr(coder, name)
                self._originals.append((coder, name, original))
                setattr(coder, name, self._timed(original))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for coder, name, original in self._originals:
            setattr(coder, name, original)

    def _timed(self, function: Callable) -> Callable:
        def timed(*arguments, **keywords):
            start = time.perf_counter()
            try:
                return function(*arguments, **keywords)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


def clip_frames(width: int, height: int, count: int) -> list[YuvFrame]:
    frames = []
    with av.open(str(EXAMPLE)) as container:
        for decoded in container.decode(video=0):
            planes = decoded.reformat(width=width, height=height, format="yuv420p").to_ndarray()
            chroma = planes[height:].reshape(2, height // 2, width // 2)
            frames.append(YuvFrame(np.ascontiguousarray(planes[:height]), chroma[0].copy(), chroma[1].copy()))
            if len(frames) == count:
                return frames
    return frames


def measure(model, frames: list[YuvFrame], quality_index: int) -> dict[str, float]:
    from cmfr_codec.bitstream import SequenceHeader

    encoder = SequenceEncoder(model, quality_index, intra_period=0)
    records = []
    with EntropyTimer() as timer:
        start = time.perf_counter()
        for frame in frames:
            records.append(encoder.encode(frame)[0])
        encode_seconds = time.perf_counter() - start
    encode_entropy = timer.seconds
    header = SequenceHeader(model_name=model.name, weights_digest=model.digest, width=frames[0].width,
                            height=frames[0].height, fps=Fraction(25), frame_count=len(frames), quality_index=quality_index,
                            intra_period=0)
    decoder = SequenceDecoder(model, header)
    with EntropyTimer() as timer:
        start = time.perf_counter()
        for number, record in enumerate(records):
            decoder.decode(number, record)
        decode_seconds = time.perf_counter() - start
    p_frames = sum(record.frame_type is FrameType.PREDICTED for record in records)
    return {
        "encode_fps": len(frames) / encode_seconds,
        "decode_fps": len(frames) / decode_seconds,
        "encode_entropy_share": encode_entropy / encode_seconds,
        "decode_entropy_share": timer.seconds / decode_seconds,
        "p_frames": p_frames,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="cmfr-s")
    parser.add_argument("--sizes", default="416x240,832x480")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--quality", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    arguments = parser.parse_args()
    model = load_model(find_weights(arguments.model), arguments.device)
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} torch={torch.__version__} "
          f"threads={torch.get_num_threads()} device={arguments.device} model={model.name}")
    print(f"{'size':>10} {'frames':>6} {'encode fps':>11} {'decode fps':>11} {'entropy share enc/dec':>22}")
    for size in arguments.sizes.split(","):
        width, height = (int(value) for value in size.split("x"))
        result = measure(model, clip_frames(width, height, arguments.frames), arguments.quality)
        print(f"{size:>10} {arguments.frames:>6} {result['encode_fps']:>11.2f} {result['decode_fps']:>11.2f} "
              f"{result['encode_entropy_share']:>10.1%} / {result['decode_entropy_share']:.1%}")


if __name__ == "__main__":
    main()
