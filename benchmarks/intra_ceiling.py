"""How much detail can the intra codec keep at all?  Its I-frames with and without rounding.

    python benchmarks/intra_ceiling.py INPUT... [--model cmfr-s] [--quality 0 63] [--frame 0] [--fit STEPS]

For each input, one frame (``--frame``, default the first) goes through the intra codec on the
training path twice per quality index: with the latent rounded as the coding path rounds it
(``quantization="ste"``; the bits are its ``-log2`` likelihoods, latent and hyper-latent, which
the coded size matches within a few per cent), and with the latent passed to the synthesis
unrounded, that is with every quantisation error taken away.  The second PSNR is the ceiling of the
transforms at that quality index: what the analysis keeps of the picture, whatever the bits.

Two reference rows calibrate it: the luma plane averaged over 2x2 and 4x4 blocks and scaled back
up (bicubic), the PSNR-Y of a picture that keeps only half or a quarter of the resolution.

When the rounded PSNR sits just under the unrounded one and both stay flat from quality 0 to 63,
finer quantisation steps cannot raise the quality: the analysis transform drops the detail before
any step is applied, and only training the transforms (or wider ones) can bring it back.

``--fit STEPS`` tells those two apart: a copy of the intra codec's transforms (analysis, synthesis,
refinement, projection) is fitted to the frame alone for STEPS Adam steps (learning rate 1e-3, no
rate term, the latent unrounded) at the highest quality index asked for, and the last column gives
its unrounded PSNR-Y.  If a few hundred steps lift it far above the trained model's, the network is
wide enough for that detail and its training has not taught it; if not, the network is too narrow.
It measures capacity, not coding: a codec fitted to one frame says nothing of other frames.
"""

from __future__ import annotations

import argparse
import copy
import platform

import torch
import torch.nn.functional as F

from cmfr_codec.errors import InputError
from cmfr_codec.io import open_video
from cmfr_codec.models.layers import LUMA_PHASES, yuv420_to_tensor
from cmfr_codec.training.losses import yuv_mse
from cmfr_codec.training.trainer import psnr
from cmfr_codec.weights import find_weights, load_model

COLUMN_FORMATS = {"bpp": ".4f", "PSNR-Y dB": ".2f", "PSNR-YUV dB": ".2f",
                  "unrounded PSNR-Y dB": ".2f", "unrounded PSNR-YUV dB": ".2f"}
COLUMNS = tuple(COLUMN_FORMATS)
REFERENCE_FACTORS = (2, 4)
FIT_LEARNING_RATE = 1e-3
FIT_COLUMN = "fitted unrounded PSNR-Y dB"


def luma_mse(x_hat: torch.Tensor, x: torch.Tensor) -> float:
    """MSE of the luma: the first ``LUMA_PHASES`` channels of the 6-channel layout are its 2x2 phases."""
    return F.mse_loss(x_hat[:, :LUMA_PHASES], x[:, :LUMA_PHASES]).item()


def measure(intra, x: torch.Tensor, quality: int) -> list[float]:
    """The table's columns for one frame ``x`` (1, 6, h, w) at ``quality``."""
    height, width = x.shape[-2:]
    rounded = intra(x, quality, "ste")
    x_hat = rounded.x_hat.clamp(0, 1)
    unrounded = intra._decode(intra._analyse(x, quality), quality, height, width).x_hat.clamp(0, 1)
    return [rounded.bpp.item(), psnr(luma_mse(x_hat, x)), psnr(yuv_mse(x_hat, x).item()),
            psnr(luma_mse(unrounded, x)), psnr(yuv_mse(unrounded, x).item())]


def fitted_luma_psnr(intra, x: torch.Tensor, quality: int, steps: int, seed: int = 0) -> float:
    """Unrounded PSNR-Y of a copy of ``intra`` whose transforms were fitted to ``x`` alone for ``steps`` steps."""
    torch.manual_seed(seed)
    fitted = copy.deepcopy(intra).train()
    height, width = x.shape[-2:]
    optimiser = torch.optim.Adam(fitted.parameters(), lr=FIT_LEARNING_RATE)

    def reconstruction() -> torch.Tensor:
        return fitted._decode(fitted._analyse(x, quality), quality, height, width).x_hat

    for _ in range(steps):
        loss = F.mse_loss(reconstruction()[:, :LUMA_PHASES], x[:, :LUMA_PHASES])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return psnr(luma_mse(reconstruction().clamp(0, 1), x))


def downscaled_luma_psnr(luma: torch.Tensor, factor: int) -> float:
    """PSNR of the luma plane (H, W) in [0, 1] averaged over ``factor`` x ``factor`` blocks, scaled back up."""
    plane = luma[None, None]
    height, width = plane.shape[-2:]
    cropped = plane[..., : height - height % factor, : width - width % factor]
    up = F.interpolate(F.avg_pool2d(cropped, factor), scale_factor=factor, mode="bicubic", align_corners=False)
    return psnr(F.mse_loss(up.clamp(0, 1), cropped).item())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="videos or pictures cmfr reads")
    parser.add_argument("--model", default="cmfr-s", help="installed model name or weights path (default: cmfr-s)")
    parser.add_argument("--quality", type=int, nargs="+", default=[0, 63], help="quality indices (default: 0 63)")
    parser.add_argument("--frame", type=int, default=0, help="which frame of each input (default: 0)")
    parser.add_argument("--fit", type=int, default=0, metavar="STEPS",
                        help="also fit the transforms to each frame alone for STEPS steps (default: 0, off)")
    arguments = parser.parse_args(argv)
    if arguments.frame < 0:
        parser.error("--frame must be 0 or more")
    if arguments.fit < 0:
        parser.error("--fit must be 0 or more")
    intra = load_model(find_weights(arguments.model), for_coding=False).codec.intra
    print(f"model {arguments.model}, frame {arguments.frame} of each input; torch {torch.__version__}, "
          f"{platform.machine()}; bpp from the likelihoods")
    print()
    print("| input | q | " + " | ".join(COLUMNS) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in COLUMNS) + " |")
    fit_quality = max(arguments.quality)
    references = []
    for path in arguments.inputs:
        try:
            with open_video(path, skip=arguments.frame, frames=1) as reader:
                frame = next(iter(reader))
        except InputError as error:
            parser.error(f"--frame {arguments.frame}: {error}")
        x = yuv420_to_tensor(frame.y, frame.u, frame.v)
        name = path.rsplit("/", 1)[-1]
        for quality in arguments.quality:
            with torch.no_grad():
                values = measure(intra, x, quality)
            cells = [format(value, spec) for value, spec in zip(values, COLUMN_FORMATS.values(), strict=True)]
            print(f"| {name} | {quality} | " + " | ".join(cells) + " |")
        luma = torch.from_numpy(frame.y.copy()).double() / 255
        values = [downscaled_luma_psnr(luma, factor) for factor in REFERENCE_FACTORS]
        if arguments.fit:
            values.append(fitted_luma_psnr(intra, x, fit_quality, arguments.fit))
        references.append((name, values))
    headers = [f"PSNR-Y at 1/{factor} resolution dB" for factor in REFERENCE_FACTORS]
    if arguments.fit:
        headers.append(f"{FIT_COLUMN} (q {fit_quality}, {arguments.fit} steps)")
    print()
    print("| input | " + " | ".join(headers) + " |")
    print("| --- | " + " | ".join("---:" for _ in headers) + " |")
    for name, values in references:
        print(f"| {name} | " + " | ".join(f"{value:.2f}" for value in values) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
