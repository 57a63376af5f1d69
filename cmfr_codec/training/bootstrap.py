"""A short CPU run of the real training loss that makes the default weights usable until the
full training pipeline's weights land.

    python -m cmfr_codec.training.bootstrap --config cmfr-s --minutes 15 --output models/weights/cmfr-s

Data: the example clip (examples/city_416x240_25fps.mkv, CC0), random 128x128 crops with flips.
The first part of the time budget trains the intra codec alone; the rest trains the inter codec
on 3-frame snippets (an I-frame from the intra codec, then two chained P-frames) with the
rate-distortion loss plus the flow warping loss of the motion stage.  One quality index is drawn
per step; the learning rate decays exponentially from 1e-3 to 1e-4 over the run.
``--init`` continues from existing weights (its config wins over ``--config``);
``--warm-start`` instead builds ``--config`` and copies in every tensor of older weights whose
name and shape still fit (after an architecture change); ``--snippet-frames`` lengthens the
P-frame chains so that error propagation is trained.  The result is a *bootstrap*: it codes real video end to end, it is not a trained codec.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import time
from pathlib import Path

import torch
from rich.console import Console

from cmfr_codec.io import open_video
from cmfr_codec.models.codec import CmfrCodec
from cmfr_codec.models.config import ModelConfig, preset
from cmfr_codec.models.dpb import DecodedPictureBuffer
from cmfr_codec.models.layers import yuv420_to_tensor
from cmfr_codec.training.losses import lambda_for, yuv_mse
from cmfr_codec.weights import WeightsFiles, find_weights, load_model, read_part, save_weights

EXAMPLE_CLIP = Path(__file__).resolve().parents[2] / "examples" / "city_416x240_25fps.mkv"
DEFAULT_SNIPPET_FRAMES = 3
WARP_LOSS_WEIGHT = 0.1
START_LEARNING_RATE, END_LEARNING_RATE = 1e-3, 1e-4


def learning_rate(progress: float) -> float:
    """Exponential decay from the start to the end rate over the run (``progress`` in [0, 1])."""
    return START_LEARNING_RATE * (END_LEARNING_RATE / START_LEARNING_RATE) ** progress


def load_clip(path: Path) -> torch.Tensor:
    """Every frame of ``path`` as one (T, 6, h, w) half-resolution tensor."""
    with open_video(path) as reader:
        return torch.cat([yuv420_to_tensor(frame.y, frame.u, frame.v) for frame in reader])


def random_snippets(clip: torch.Tensor, batch: int, frames: int, crop: int, generator: random.Random) -> torch.Tensor:
    """(frames, batch, 6, crop, crop) co-located crops of consecutive frames, randomly flipped."""
    snippets = []
    _, _, height, width = clip.shape
    for _ in range(batch):
        start = generator.randrange(clip.shape[0] - frames + 1)
        top, left = generator.randrange(height - crop + 1), generator.randrange(width - crop + 1)
        snippet = clip[start : start + frames, :, top : top + crop, left : left + crop]
        if generator.random() < 0.5:
            snippet = _flip_horizontally(snippet)
        snippets.append(snippet)
    return torch.stack(snippets, dim=1)


def _flip_horizontally(snippet: torch.Tensor) -> torch.Tensor:
    # Luma phases (0,0),(0,1),(1,0),(1,1): a horizontal flip also swaps the column phases.
    flipped = snippet.flip(-1)
    return flipped[:, [1, 0, 3, 2, 4, 5]]


def intra_step(codec: CmfrCodec, snippet: torch.Tensor, quality_index: int) -> torch.Tensor:
    output = codec.intra(snippet[0], quality_index)
    return lambda_for(quality_index) * yuv_mse(output.x_hat, snippet[0]) + output.bpp


def inter_step(codec: CmfrCodec, snippet: torch.Tensor, quality_index: int) -> torch.Tensor:
    with torch.no_grad():
        reference = codec.intra(snippet[0], quality_index, "ste").x_hat
    buffer = DecodedPictureBuffer(frame=reference)
    loss = snippet.new_zeros(())
    for frame in snippet[1:]:
        output = codec.inter(frame, buffer, quality_index)
        loss = loss + lambda_for(quality_index) * yuv_mse(output.x_hat, frame) + output.bpp
        loss = loss + WARP_LOSS_WEIGHT * lambda_for(quality_index) * yuv_mse(output.warped, frame)
        buffer = output.dpb
    return loss / (len(snippet) - 1)


def warm_start(codec: CmfrCodec, files: WeightsFiles) -> tuple[int, int]:
    """Copy every tensor of ``files`` whose name and shape match ``codec``'s; -> (copied, total in codec)."""
    copied = total = 0
    for part, path in (("intra", files.intra), ("inter", files.inter)):
        network = getattr(codec, part)
        old = read_part(path, part)["state_dict"]
        state = network.state_dict()
        fitting = {key: value for key, value in old.items() if key in state and state[key].shape == value.shape}
        network.load_state_dict(fitting, strict=False)
        copied += len(fitting)
        total += len(state)
    return copied, total


def float_entropy(config: ModelConfig) -> ModelConfig:
    """``config`` with the entropy parameters in float (the reference for the integer path's cost)."""
    return dataclasses.replace(config, name=f"{config.name}-float",
                               intra=dataclasses.replace(config.intra, integer_entropy=False),
                               inter=dataclasses.replace(config.inter, integer_entropy=False))


def bootstrap(config_name: str, output: Path, minutes: float, batch: int, crop: int, seed: int,
              intra_share: float = 0.4, snippet_frames: int = DEFAULT_SNIPPET_FRAMES,
              init: Path | None = None, warm: Path | None = None, float_path: bool = False) -> int:
    """Train for ``minutes`` of wall time and save the weights pair at ``output``; returns the steps run."""
    torch.manual_seed(seed)
    generator = random.Random(seed)
    clip = load_clip(EXAMPLE_CLIP)
    if init is not None:
        codec = load_model(find_weights(str(init)), for_coding=False).codec.train()
    else:
        config = preset(config_name)
        codec = CmfrCodec(float_entropy(config) if float_path else config).train()
    console = Console(stderr=True)
    if warm is not None:
        copied, total = warm_start(codec, find_weights(str(warm)))
        console.print(f"warm start: {copied} of {total} tensors copied from {warm}")
    optimizer = torch.optim.Adam(codec.parameters(), lr=START_LEARNING_RATE)
    start = time.monotonic()
    budget = minutes * 60
    step = 0
    while (elapsed := time.monotonic() - start) < budget:
        quality_index = generator.randrange(64)
        snippet = random_snippets(clip, batch, snippet_frames, crop // 2, generator)
        stage = "intra" if elapsed < intra_share * budget else "inter"
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(elapsed / budget)
        loss = (intra_step if stage == "intra" else inter_step)(codec, snippet, quality_index)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(codec.parameters(), 1.0)
        optimizer.step()
        step += 1
        if step % 20 == 0:
            console.print(f"step {step:5d} {stage:5s} q={quality_index:2d} loss={loss.item():.4f} "
                          f"({elapsed / 60:.1f} of {minutes:g} min)")
    codec.eval()
    codec.update_tables()
    files = save_weights(codec, output)
    console.print(f"{step} steps; wrote {files.intra} and {files.inter}")
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="cmfr-s", help="model preset (default: cmfr-s)")
    parser.add_argument("--output", type=Path, required=True, help="weights stem: writes STEM.intra.cmfrw and STEM.inter.cmfrw")
    parser.add_argument("--minutes", type=float, default=15.0, help="wall-clock budget (default: 15)")
    parser.add_argument("--batch", type=int, default=4, help="snippets per step (default: 4)")
    parser.add_argument("--crop", type=int, default=128, help="luma crop size, a multiple of 64 (default: 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--intra-share", type=float, default=0.4,
                        help="share of the time spent on the intra stage (default: 0.4)")
    parser.add_argument("--snippet-frames", type=int, default=DEFAULT_SNIPPET_FRAMES,
                        help="frames per snippet: one I-frame, then chained P-frames (default: 3)")
    parser.add_argument("--init", type=Path, default=None,
                        help="continue from these weights (a weights file of a pair; default: random init)")
    parser.add_argument("--warm-start", type=Path, default=None,
                        help="copy the tensors that still fit from these older weights (default: none)")
    parser.add_argument("--float-entropy", action="store_true",
                        help="entropy parameters in float, named NAME-float: the reference the integer "
                             "path's rate cost is measured against (default: off)")
    arguments = parser.parse_args()
    if arguments.crop % 64:
        parser.error("--crop must be a multiple of 64")
    if arguments.snippet_frames < 2:
        parser.error("--snippet-frames must be at least 2")
    bootstrap(arguments.config, arguments.output, arguments.minutes, arguments.batch, arguments.crop, arguments.seed,
              arguments.intra_share, arguments.snippet_frames, arguments.init, arguments.warm_start,
              arguments.float_entropy)


if __name__ == "__main__":
    main()
