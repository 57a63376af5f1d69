"""Does a model code motion?  Its flows and warps next to zero flow and OpenCV's DIS flow.

    python benchmarks/motion_check.py INPUT [--model cmfr-s] [--frames 8] [--quality 0 63]

For each quality index, frame 0 goes through the intra codec and frames 1.. through the inter codec
as a chain of P-frames, on the training path with rounding (``quantization="ste"``: the symbols
the coding path would write, without the entropy coder).  Per P-frame it measures the mean length
in half-resolution pixels of the flow estimator's output, of the decoded (and refined) flow that
warps, and of the DIS flow from the original frame t to the original frame t-1 (the motion stage's
teacher, :func:`~cmfr_codec.training.flow_teacher.dis_flow_targets`); then the PSNR-YUV (6:1:1
MSE) of the decoded reference warped with zero flow, with the DIS flow and with the decoded flow,
the motion latent's bytes (its ``-log2`` likelihoods / 8) and the P-frame's PSNR-YUV.  Then the
same P-frame once more with the DIS flow motion-coded in place of the estimator's: the decoded
flow's length, its warp and the motion bytes; and the motion bytes of zero flow motion-coded, the
motion coder's floor: what it spends to say that nothing moves.  The table gives the mean over the
P-frames.

A model that codes motion warps better than zero flow, and its flows vary with the content; a
decoded flow of constant length, warping exactly as well as zero flow, is one that codes none.
If the coded DIS flow warps well, the estimator is at fault; if it does not, the motion coder is.
If the coded zero flow costs nearly as much as the estimator's flow, the motion latent's entropy model,
not the flow's detail, sets the motion rate.
"""

from __future__ import annotations

import math
import platform
import sys
from pathlib import Path

import torch

from cmfr_codec.models.dpb import DecodedPictureBuffer
from cmfr_codec.models.motion import warp
from cmfr_codec.training.flow_teacher import dis_flow_targets
from cmfr_codec.training.losses import yuv_mse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chain_inputs import chain_parser, load_chain  # noqa: E402

COLUMN_FORMATS = {"estimated flow": ".3f", "decoded flow": ".3f", "DIS flow": ".3f", "warp zero dB": ".2f",
                  "warp DIS dB": ".2f", "warp decoded dB": ".2f", "motion bytes": ".0f", "P-frame dB": ".2f",
                  "coded DIS flow": ".3f", "warp coded DIS dB": ".2f", "coded DIS bytes": ".0f",
                  "coded zero bytes": ".0f"}
COLUMNS = tuple(COLUMN_FORMATS)


def psnr(x_hat: torch.Tensor, x: torch.Tensor) -> float:
    return 10 * math.log10(1 / yuv_mse(x_hat, x).item())


def mean_length(flow: torch.Tensor) -> float:
    return flow.norm(dim=1).mean().item()


def motion_bytes(output) -> float:
    """The motion latent's cost in bytes: its ``-log2`` likelihoods (latent and hyper-latent) / 8."""
    return sum(-values.log2().sum().item() for name, values in output.likelihoods.items()
               if name.startswith("motion_")) / 8


def measure(codec, frames: list[torch.Tensor], quality: int) -> list[float]:
    """The table's columns for one quality index, averaged over the P-frames of ``frames``."""
    buffer = DecodedPictureBuffer(frame=codec.intra(frames[0], quality, "ste").x_hat)
    rows = []
    for index in range(1, len(frames)):
        current = frames[index]
        output = codec.inter(current, buffer, quality, "ste")
        teacher = dis_flow_targets(torch.cat([frames[index - 1], current]))
        forced = codec.inter(current, buffer, quality, "ste", flow=teacher)
        still = codec.inter(current, buffer, quality, "ste", flow=torch.zeros_like(teacher))
        rows.append([mean_length(output.estimated_flow), mean_length(output.flow), mean_length(teacher),
                     psnr(buffer.frame, current), psnr(warp(buffer.frame, teacher), current),
                     psnr(output.warped, current), motion_bytes(output), psnr(output.x_hat, current),
                     mean_length(forced.flow), psnr(forced.warped, current), motion_bytes(forced),
                     motion_bytes(still)])
        buffer = output.dpb
    return [sum(column) / len(rows) for column in zip(*rows, strict=True)]


def main(argv: list[str] | None = None) -> int:
    arguments, codec, frames = load_chain(chain_parser(__doc__), argv)
    print(f"{arguments.input}, {len(frames)} frames, model {arguments.model}; torch {torch.__version__}, "
          f"{platform.machine()}; flows in half-resolution pixels, means over {len(frames) - 1} P-frames")
    print()
    print("| q | " + " | ".join(COLUMNS) + " |")
    print("| ---: | " + " | ".join("---:" for _ in COLUMNS) + " |")
    for quality in arguments.quality:
        with torch.no_grad():
            values = measure(codec, frames, quality)
        cells = [format(value, spec) for value, spec in zip(values, COLUMN_FORMATS.values(), strict=True)]
        print(f"| {quality} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
