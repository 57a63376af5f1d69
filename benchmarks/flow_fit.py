"""How fast does a new flow estimator learn the DIS teacher on its own?

    python benchmarks/flow_fit.py [--data data/prepared-city] [--model-config cmfr-s] [--steps 200]
                                  [--batch 8] [--crop 256] [--learning-rate 1e-3] [--device auto]
                                  [--cost-radius R] [--max-frame-stride S] [--synthetic-motion SHARE]

Trains only a freshly initialised flow estimator (the inter codec's SpyNet-style pyramid) to the
motion stage's teachers, OpenCV's DIS flow (:func:`~cmfr_codec.training.flow_teacher.dis_flow_targets`)
and, for the stage's share of synthetic pairs, their exact flow,
with Adam on the Charbonnier end-point error of the motion stage's distillation term, on the
batches the motion stage would draw (``cmfr train``'s :func:`~cmfr_codec.training.trainer.step_batches`:
random 2-frame snippets of the training split, other crops and flips every step).  Every 50 steps
it prints the mean training error of those steps and the error on fixed centre crops of the
held-out split, next to zero flow's, and the PSNR-YUV of those snippets' frame 0 warped with the
estimator's flow (zero flow's and DIS's are printed first).  An estimator that learns motion takes
its held-out error below zero flow's; the motion stage's distillation term can only teach it as
fast as this.  The last three options switch off, one by one, what makes it learn on the CPU: the
cost volume, frame pairs further apart and synthetic pairs (docs/training.md).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from cmfr_codec.data.dataset import VALIDATION, ClipDataset
from cmfr_codec.device import resolve_device
from cmfr_codec.errors import InputError
from cmfr_codec.models.config import preset
from cmfr_codec.models.layers import FRAME_CHANNELS
from cmfr_codec.models.motion import SpyNetFlow, warp
from cmfr_codec.training.distributed import ProcessPlace
from cmfr_codec.training.flow_teacher import dis_flow_targets
from cmfr_codec.training.losses import flow_endpoint_error, yuv_mse
from cmfr_codec.training.stages import load_stage, with_overrides
from cmfr_codec.training.trainer import psnr, step_batches

REPORT_EVERY = 50
HELD_OUT_SNIPPETS = 8


def held_out(data: Path, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre crops of evenly spaced held-out snippets and the DIS flow of each one's frame 1 to its frame 0."""
    clips = ClipDataset(data, VALIDATION, frames=2, crop=crop, augment=False)
    picks = torch.linspace(0, len(clips) - 1, min(HELD_OUT_SNIPPETS, len(clips))).round().long().unique()
    snippets = torch.stack([clips[int(index)] for index in picks])
    return snippets, torch.stack([dis_flow_targets(snippet)[0] for snippet in snippets])


def warp_psnr(snippets: torch.Tensor, flow: torch.Tensor) -> float:
    """PSNR-YUV (6:1:1) of the snippets' frame 0 warped with ``flow`` against their frame 1, over all of them."""
    return psnr(yuv_mse(warp(snippets[:, 0], flow.to(snippets.device)), snippets[:, 1]).item())


def held_out_scores(estimator: SpyNetFlow, snippets: torch.Tensor, targets: torch.Tensor, device: str) -> tuple[float, float]:
    """The estimator's mean end-point error to DIS on the held-out snippets, and its warp's PSNR-YUV."""
    with torch.no_grad():
        flow = estimator(snippets[:, 1].to(device), snippets[:, 0].to(device))
        return flow_endpoint_error(flow, targets.to(device)).mean().item(), warp_psnr(snippets, flow.cpu())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/prepared-city"),
                        help="prepared set (default: data/prepared-city)")
    parser.add_argument("--model-config", default="cmfr-s", help="model preset whose estimator to train (default: cmfr-s)")
    parser.add_argument("--steps", type=int, default=200, help="training steps (default: 200)")
    parser.add_argument("--batch", type=int, default=8, help="snippets per step (default: 8)")
    parser.add_argument("--crop", type=int, default=256, help="luma crop side, a multiple of 64 (default: 256)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's learning rate (default: 1e-3)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the crops (default: 0)")
    parser.add_argument("--cost-radius", type=int, default=None,
                        help="the estimator's cost volume radius, 0 for none (default: the preset's flow_cost_radius)")
    parser.add_argument("--max-frame-stride", type=int, default=None,
                        help="pairs up to this many frames apart (default: the motion stage's max_frame_stride)")
    parser.add_argument("--synthetic-motion", type=float, default=None,
                        help="share of synthetic pairs (default: the motion stage's synthetic_motion)")
    arguments = parser.parse_args(argv)
    if arguments.steps < 1 or arguments.batch < 1:
        parser.error("--steps and --batch must be 1 or more")
    if arguments.cost_radius is not None and arguments.cost_radius < 0:
        parser.error(f"--cost-radius must be 0 or more, got {arguments.cost_radius}")
    if arguments.crop < 64 or arguments.crop % 64:
        parser.error(f"--crop must be a multiple of 64, got {arguments.crop}")
    device = resolve_device(arguments.device)
    torch.manual_seed(arguments.seed)
    config = preset(arguments.model_config).inter
    radius = config.flow_cost_radius if arguments.cost_radius is None else arguments.cost_radius
    estimator = SpyNetFlow(FRAME_CHANNELS, config.flow_levels, config.flow_channels, radius).to(device)
    optimizer = torch.optim.Adam(estimator.parameters(), lr=arguments.learning_rate)
    try:
        stage = with_overrides(load_stage("motion"), steps=arguments.steps, batch=arguments.batch, crop=arguments.crop,
                               distill_steps=arguments.steps, max_frame_stride=arguments.max_frame_stride,
                               synthetic_motion=arguments.synthetic_motion)
    except InputError as error:
        parser.error(str(error))
    batches = step_batches(stage, arguments.data, 1, arguments.seed, ProcessPlace(0, 1, device))
    snippets, targets = held_out(arguments.data, arguments.crop)
    zero = flow_endpoint_error(torch.zeros_like(targets), targets).mean().item()
    print(f"{arguments.model_config} flow estimator, {arguments.data}, batch {arguments.batch} x {arguments.crop}, "
          f"Adam {arguments.learning_rate:g}; {device}, torch {torch.__version__}, {platform.machine()}")
    print(f"held-out end-point error (half-resolution pixels) of zero flow {zero:.3f}, "
          f"of the new estimator {held_out_scores(estimator, snippets, targets, device)[0]:.3f}")
    print(f"held-out warp PSNR-YUV: zero flow {warp_psnr(snippets, torch.zeros_like(targets)):.2f} dB, "
          f"DIS {warp_psnr(snippets, targets):.2f} dB")
    print(f"cost volume radius {radius}; frame pairs up to {stage.max_frame_stride} frames apart, "
          f"{stage.synthetic_motion:.0%} synthetic")
    print()
    print("| steps | training error | held-out error | held-out warp dB | seconds |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    errors, start = [], time.perf_counter()
    for step in range(1, arguments.steps + 1):
        batch = batches[step - 1]
        frames, target = batch.snippets.to(device), batch.flow_targets[:, 0].to(device)
        loss = flow_endpoint_error(estimator(frames[:, 1], frames[:, 0]), target).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        errors.append(loss.item())
        if step % REPORT_EVERY == 0 or step == arguments.steps:
            error, psnr = held_out_scores(estimator, snippets, targets, device)
            print(f"| {step} | {sum(errors) / len(errors):.3f} | {error:.3f} | {psnr:.2f} "
                  f"| {time.perf_counter() - start:.0f} |", flush=True)
            errors = []
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
