"""Size and cost of the model presets: parameters, MACs per 1080p frame, and one training step on this machine.

    python benchmarks/model_cost.py [--presets cmfr-s,cmfr-base] [--steps 3]

MACs are counted by torch's FlopCounterMode (convolutions and matrix products; MAC = 2 FLOPs) on
one 1920x1080 frame, i.e. the (1, 6, 544, 960) padded half-resolution tensor, for the coding
paths: intra compress / decompress, inter compress (motion estimation included) / decompress.
The training step is the rate-distortion loss of a batch of 4 snippets of 3 frames at 256x256
(one intra-coded reference, then two chained P-frames), forward, backward and an Adam step; the
median of ``--steps`` steps after one warm-up step is printed.  ``--steps 0`` skips the training
step (no warm-up either) and prints "-" in its column: parameters and MACs only, which do not
depend on how busy the machine is.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import torch

from cmfr_codec.determinism import reproducible_inference
from cmfr_codec.models.codec import CmfrCodec
from cmfr_codec.models.complexity import count_macs, count_parameters
from cmfr_codec.models.config import preset
from cmfr_codec.models.dpb import DecodedPictureBuffer
from cmfr_codec.training.losses import lambda_for, yuv_mse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import median_seconds  # noqa: E402

GRID_1080P = (544, 960)


def coding_macs(codec: CmfrCodec) -> dict[str, float]:
    codec.update_tables()
    x = torch.rand(1, 6, *GRID_1080P)
    intra_decoded, intra_streams = codec.intra.compress(x, 32)
    buffer = DecodedPictureBuffer(frame=intra_decoded.x_hat)
    inter_decoded, inter_streams = codec.inter.compress(x, buffer, 32)
    return {
        "intra_encode": count_macs(codec.intra.compress, (x, 32)) / 1e9,
        "intra_decode": count_macs(codec.intra.decompress, (intra_streams, 32, *GRID_1080P)) / 1e9,
        "inter_encode": count_macs(codec.inter.compress, (x, buffer, 32)) / 1e9,
        "inter_decode": count_macs(codec.inter.decompress, (inter_streams, buffer, 32)) / 1e9,
    }


def training_step_seconds(codec: CmfrCodec, steps: int) -> float:
    codec.train()
    optimizer = torch.optim.Adam(codec.parameters(), lr=1e-4)
    snippet = torch.rand(3, 4, 6, 128, 128)
    quality_index = 32

    def step() -> None:
        output = codec.intra(snippet[0], quality_index)
        loss = lambda_for(quality_index) * yuv_mse(output.x_hat, snippet[0]) + output.bpp
        buffer = DecodedPictureBuffer(frame=output.x_hat)
        for frame in snippet[1:]:
            output = codec.inter(frame, buffer, quality_index)
            loss = loss + lambda_for(quality_index) * yuv_mse(output.x_hat, frame) + output.bpp
            buffer = output.dpb
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return median_seconds(step, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="cmfr-s,cmfr-base")
    parser.add_argument("--steps", type=int, default=3,
                        help="timed training steps per preset; 0 skips the timing (default: 3)")
    arguments = parser.parse_args()
    if arguments.steps < 0:
        parser.error("--steps must be 0 or more")
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} torch={torch.__version__} threads={torch.get_num_threads()}")
    print("| model | intra params | inter params | intra enc / dec GMAC | inter enc / dec GMAC | train step (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in arguments.presets.split(","):
        torch.manual_seed(0)
        codec = CmfrCodec(preset(name))
        with reproducible_inference():
            macs = coding_macs(codec)
        seconds = f"{training_step_seconds(codec, arguments.steps):.2f}" if arguments.steps else "-"
        print(f"| {name} | {count_parameters(codec.intra) / 1e6:.2f} M | {count_parameters(codec.inter) / 1e6:.2f} M "
              f"| {macs['intra_encode']:.1f} / {macs['intra_decode']:.1f} "
              f"| {macs['inter_encode']:.1f} / {macs['inter_decode']:.1f} | {seconds} |")


if __name__ == "__main__":
    main()
