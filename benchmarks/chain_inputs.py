"""The command line of the benchmarks that run a model over one clip as an I-frame and a chain of P-frames.

``motion_check.py`` and ``latent_rates.py`` take the same arguments (INPUT, ``--model``, ``--frames``,
``--quality``) and start from the same things: the model's codec on the training path and the clip's
first frames as the model's padded tensors.
"""

from __future__ import annotations

import argparse

import torch

from cmfr_codec.errors import CmfrError
from cmfr_codec.io import open_video
from cmfr_codec.pipeline import frame_to_tensor
from cmfr_codec.weights import find_weights, load_model


def chain_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="a video cmfr reads (its first --frames frames)")
    parser.add_argument("--model", default="cmfr-s", help="installed model name or weights path (default: cmfr-s)")
    parser.add_argument("--frames", type=int, default=8, help="frames: one I-frame, then P-frames (default: 8)")
    parser.add_argument("--quality", type=int, nargs="+", default=[0, 63], help="quality indices (default: 0 63)")
    return parser


def load_chain(parser: argparse.ArgumentParser,
               argv: list[str] | None) -> tuple[argparse.Namespace, object, list[torch.Tensor]]:
    """The parsed arguments, the model's codec (training path) and the clip's frames as (1, 6, h, w) tensors."""
    arguments = parser.parse_args(argv)
    if arguments.frames < 2:
        parser.error("--frames must be 2 or more: one I-frame and at least one P-frame")
    try:
        codec = load_model(find_weights(arguments.model), for_coding=False).codec
        with open_video(arguments.input, frames=arguments.frames) as reader:
            frames = [frame_to_tensor(frame, "cpu") for frame in reader]
    except CmfrError as error:
        parser.error(str(error))
    return arguments, codec, frames
