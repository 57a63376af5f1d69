"""Training throughput: optimiser steps/s and samples/s of each model, and whether data loading keeps up.

    python benchmarks/train_step.py [--models cmfr-s,cmfr-base] [--stage inter-rate] [--batch 4]
        [--crop 192] [--steps 5] [--devices cpu,cuda] [--data data/prepared --workers 4]

The model step is timed on in-memory batches of real content (192x192 crops of the 416x240 example clip), so it
measures the networks, the loss, the backward pass and Adam alone: on CUDA in bf16 autocast, as
``cmfr train`` runs there; on the CPU in fp32 (``--precision auto``) and, where the CPU computes
bfloat16 natively, also in bf16 (``--precision bf16``).  With ``--data`` the loader of ``cmfr train`` (StepBatches in DataLoader
workers, prefetching 4 batches each) is timed on its own too: its samples/s must exceed the
step's, or the GPU waits for data.  ``--devices`` defaults to the CPU, plus CUDA when a GPU is
usable.  One warm-up step per configuration is not timed.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from cmfr_codec.io import open_video
from cmfr_codec.models.analysis import native_bfloat16
from cmfr_codec.models.codec import CmfrCodec
from cmfr_codec.models.config import preset
from cmfr_codec.models.layers import yuv420_to_tensor
from cmfr_codec.training.distributed import ProcessPlace
from cmfr_codec.training.stages import load_stage, with_overrides
from cmfr_codec.training.trainer import (
    StageObjective,
    step_batches,
    step_loader,
    trainable_parameters,
    training_autocast,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "city_416x240_25fps.mkv"


def example_batch(batch: int, frames: int, crop: int) -> torch.Tensor:
    """(batch, frames, 6, crop/2, crop/2): co-located crops of consecutive example frames."""
    with open_video(EXAMPLE, frames=frames + batch) as reader:
        clip = torch.cat([yuv420_to_tensor(frame.y, frame.u, frame.v) for frame in reader])
    half = crop // 2
    if half > min(clip.shape[-2:]):
        raise SystemExit(f"--crop {crop} is larger than the example clip (240 lines)")
    return torch.stack([clip[start : start + frames, :, :half, :half] for start in range(batch)])


def time_steps(model_name: str, stage_name: str, batch: int, crop: int, steps: int, device: str,
               bf16: bool) -> float:
    """Seconds per optimiser step (after one warm-up step)."""
    stage = with_overrides(load_stage(stage_name), batch=batch, crop=crop)
    codec = CmfrCodec(preset(model_name)).to(device).train()
    parameters = trainable_parameters(codec, stage.trains)
    optimizer = torch.optim.Adam(parameters, lr=stage.learning_rate)
    objective = StageObjective(codec, stage)
    snippets = example_batch(batch, stage.frames, crop).to(device)
    quality = torch.arange(batch, device=device) * 13 % 64
    elapsed = 0.0
    for step in range(steps + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        with training_autocast(device, bf16):
            loss = objective(snippets, quality)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        if step:
            elapsed += time.perf_counter() - started
    return elapsed / steps


def time_loader(data: Path, stage_name: str, batch: int, crop: int, steps: int, workers: int) -> float:
    """Seconds per batch delivered by ``cmfr train``'s loader (after the first batch), with the
    stage's stills (intra) or DIS flow targets (motion, while distilling) as ``cmfr train`` has them."""
    stage = with_overrides(load_stage(stage_name), batch=batch, crop=crop, steps=steps + 1)
    loader = step_loader(step_batches(stage, data, 1, 0, ProcessPlace(0, 1, "cpu")), workers)
    batches = iter(loader)
    next(batches)
    started = time.perf_counter()
    for _ in batches:
        pass
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cmfr-s,cmfr-base", help="model presets (default: cmfr-s,cmfr-base)")
    parser.add_argument("--stage", default="inter-rate", help="stage whose step is timed (default: inter-rate)")
    parser.add_argument("--batch", type=int, default=4, help="snippets per step (default: 4)")
    parser.add_argument("--crop", type=int, default=192, help="luma crop side, a multiple of 64 up to 192 (default: 192)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per configuration (default: 5)")
    parser.add_argument("--devices", default=None, help="comma-separated (default: cpu, and cuda when usable)")
    parser.add_argument("--data", type=Path, default=None, help="prepared set: also time the loader (default: none)")
    parser.add_argument("--workers", type=int, default=4, help="loader workers with --data (default: 4)")
    arguments = parser.parse_args()
    devices = arguments.devices.split(",") if arguments.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    crop = arguments.crop
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    print(f"stage {arguments.stage}, batch {arguments.batch}, crop {crop}")
    for device in devices:
        # CUDA as cmfr train runs it (bf16); the CPU in fp32 (--precision auto) and, where native, bf16
        precisions = ["bf16"] if device == "cuda" else ["fp32"] + (["bf16"] if native_bfloat16(device) else [])
        for model in arguments.models.split(","):
            for precision in precisions:
                seconds = time_steps(model, arguments.stage, arguments.batch, crop, arguments.steps, device,
                                     precision == "bf16")
                print(f"{model:10s} {device:5s} {precision:5s} {1 / seconds:8.2f} steps/s "
                      f"{arguments.batch / seconds:8.2f} samples/s")
    if arguments.data is not None:
        seconds = time_loader(arguments.data, arguments.stage, arguments.batch, crop, 4 * arguments.steps, arguments.workers)
        print(f"loader     {arguments.workers} workers {1 / seconds:8.2f} batches/s {arguments.batch / seconds:8.2f} samples/s")


if __name__ == "__main__":
    main()
