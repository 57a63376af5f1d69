"""Where a model's bits go: each latent's rate, and the hyper-latents' rate next to their entropy.

    python benchmarks/latent_rates.py INPUT [--model cmfr-s] [--frames 8] [--quality 0 63]

Frame 0 goes through the intra codec and frames 1.. through the inter codec as a chain of P-frames,
on the training path with rounding (``quantization="ste"``: the symbols the coder writes, without
the entropy coder), and for each quality index the table gives, summed over the frames, the bytes
of each latent (its ``-log2`` likelihoods / 8): the intra ``y`` and ``z``, the motion ``y`` and
``z``, the P-frames' ``y`` and ``z``, and each one's share of the total.

The second table is about the hyper-latents, which are coded with a factorized density, one static
distribution per channel and density band (the intra ``z``, the motion ``z`` and the P-frames' ``z``): their bytes
under the model's density, and the empirical entropy of the same rounded symbols, channel by
channel (the bytes an ideal static density fitted to exactly these symbols would spend; a lower
bound for this clip, a little optimistic for so few symbols).  A density whose bytes are several
times the entropy no longer fits what its hyper-analysis outputs: the ``densities`` stage of
``cmfr train`` refits it (docs/training.md).
"""

from __future__ import annotations

import collections
import platform
import sys
from pathlib import Path

import torch

from cmfr_codec.models.dpb import DecodedPictureBuffer
from cmfr_codec.models.latent_codecs import FactorizedLatentCodec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chain_inputs import chain_parser, load_chain  # noqa: E402

LATENTS = ("intra y", "intra z", "motion y", "motion z", "P y", "P z")
"""Table names of the likelihoods: the intra codec's ``y``/``z``, the inter codec's ``motion_y``/``motion_z``/``y``/``z``."""
HYPER_LATENTS = {"intra z": "intra.z_codec", "motion z": "inter.motion_codec.z_codec",
                 "P z": "inter.latent_codec.z_codec"}
"""Where each hyper-latent's factorized codec sits in a :class:`~cmfr_codec.models.codec.CmfrCodec`."""


def table_name(codec_part: str, likelihood: str) -> str:
    if codec_part == "intra":
        return f"intra {likelihood}"
    return likelihood.replace("_", " ") if likelihood.startswith("motion_") else f"P {likelihood}"


def hyper_codecs(codec) -> dict[str, FactorizedLatentCodec]:
    return {name: codec.get_submodule(path) for name, path in HYPER_LATENTS.items()}


def empirical_entropy_bits(symbols: torch.Tensor) -> float:
    """Sum over channels of (count x entropy) of the rounded symbols (N, C, H, W) of each channel."""
    per_channel = symbols.round().transpose(0, 1).reshape(symbols.shape[1], -1)
    bits = 0.0
    for values in per_channel:
        _, counts = torch.unique(values, return_counts=True)
        probabilities = counts.double() / counts.sum()
        bits += float(-(counts * probabilities.log2()).sum())
    return bits


def measure(codec, frames: list[torch.Tensor], quality: int) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    """Bytes per latent over the chain, and for each hyper-latent (model bytes, empirical-entropy bytes)."""
    codecs = hyper_codecs(codec)
    symbols: dict[str, list[torch.Tensor]] = collections.defaultdict(list)
    hooks = [module.register_forward_hook(lambda _, __, output, name=name: symbols[name].append(output[0]))
             for name, module in codecs.items()]
    rates: dict[str, float] = dict.fromkeys(LATENTS, 0.0)
    try:
        output = codec.intra(frames[0], quality, "ste")
        outputs = [("intra", output.likelihoods)]
        buffer = DecodedPictureBuffer(frame=output.x_hat)
        for frame in frames[1:]:
            output = codec.inter(frame, buffer, quality, "ste")
            outputs.append(("inter", output.likelihoods))
            buffer = output.dpb
    finally:
        for hook in hooks:
            hook.remove()
    for part, likelihoods in outputs:
        for name, values in likelihoods.items():
            rates[table_name(part, name)] += -values.log2().sum().item() / 8
    hyper = {}
    for name, tensors in symbols.items():
        rounded = torch.cat([tensor.round() for tensor in tensors])
        model_bytes = -codecs[name].likelihoods(rounded, quality).log2().sum().item() / 8
        hyper[name] = (model_bytes, empirical_entropy_bits(rounded) / 8)
    return rates, hyper


def main(argv: list[str] | None = None) -> int:
    arguments, codec, frames = load_chain(chain_parser(__doc__), argv)
    print(f"{arguments.input}, {len(frames)} frames, model {arguments.model}; torch {torch.__version__}, "
          f"{platform.machine()}; bytes from the likelihoods, summed over the frames")
    results = {}
    for quality in arguments.quality:
        with torch.no_grad():
            results[quality] = measure(codec, frames, quality)
    print()
    print("| q | " + " | ".join(f"{name} bytes" for name in LATENTS) + " | total bytes | hyper-latents' share |")
    print("| ---: | " + " | ".join("---:" for _ in LATENTS) + " | ---: | ---: |")
    for quality, (rates, _) in results.items():
        total = sum(rates.values())
        hyper = sum(rates[name] for name in HYPER_LATENTS)
        print(f"| {quality} | " + " | ".join(f"{rates[name]:.0f}" for name in LATENTS)
              + f" | {total:.0f} | {100 * hyper / total:.1f} % |")
    print()
    print("| q | hyper-latent | model bytes | empirical entropy bytes | model / entropy |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for quality, (_, hyper) in results.items():
        for name, (model_bytes, entropy_bytes) in hyper.items():
            ratio = model_bytes / entropy_bytes if entropy_bytes > 0 else float("inf")
            print(f"| {quality} | {name} | {model_bytes:.0f} | {entropy_bytes:.0f} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
