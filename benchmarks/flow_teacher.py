"""The motion stage's DIS teacher: what a flow target costs, and how well each way of computing it warps.

    python benchmarks/flow_teacher.py [--crop 256] [--pairs 40]

Cost: ``cv2.DISOpticalFlow.calc`` on pairs of ``crop`` x ``crop`` luma frames of the example clip
(scaled to ``crop`` rows, real content), with one OpenCV thread as in ``cmfr train``'s DataLoader
workers, for each preset; then the whole target of a 2-frame snippet as the loader makes it
(:func:`~cmfr_codec.training.flow_teacher.dis_flow_targets`: interleaving the luma phases, DIS,
halving).  Median over ``--pairs`` calls, after one untimed call.

Quality: the 6:1:1 MSE of ``warp(frame t-k, flow)`` against frame t over the 416x240 example
clip, for k = 1 and 4, with zero flow, with DIS on the half-resolution luma (the mean of the four
phases) and with DIS on the full-resolution luma brought to the half-resolution grid (the teacher).
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from cmfr_codec.data.dataset import planes_to_tensor
from cmfr_codec.io import open_video
from cmfr_codec.models.motion import warp
from cmfr_codec.training.flow_teacher import dis_flow_targets, full_resolution_luma, half_resolution_flow
from cmfr_codec.training.losses import yuv_mse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import median_seconds  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "city_416x240_25fps.mkv"
PRESETS = ("ULTRAFAST", "FAST", "MEDIUM")
FRAMES = 32


def example_snippet(crop: int) -> torch.Tensor:
    """Frames 0 and 4 of the example clip scaled to ``crop`` rows, centre crop x crop: (2, 6, crop/2, crop/2)."""
    import av

    pictures = []
    with av.open(str(EXAMPLE)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in (0, 4):
                width = 2 * round(frame.width * crop / frame.height / 2)
                planes = frame.reformat(width=width, height=crop, format="yuv420p").to_ndarray()
                left = (width - crop) // 4 * 2
                chroma = planes[crop:].reshape(2, crop // 2, width // 2)[:, :, left // 2 : (left + crop) // 2]
                pictures.append(planes_to_tensor(planes[None, :crop, left : left + crop], chroma[None, 0], chroma[None, 1]))
            if index == 4:
                break
    return torch.cat(pictures)


def dis_flow(preset: str, current: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{preset}")).calc(current, reference, None)


def half_resolution_luma(frames: torch.Tensor) -> np.ndarray:
    return np.rint(frames[:, :4].numpy().mean(axis=1) * 255).astype(np.uint8)


def warping_errors(gap: int) -> dict[str, float]:
    """Mean warping MSE over the example clip's pairs ``gap`` frames apart, per way of getting the flow."""
    with open_video(EXAMPLE, frames=FRAMES) as reader:
        clip = torch.cat([planes_to_tensor(frame.y[None], frame.u[None], frame.v[None]) for frame in reader])
    full, half = full_resolution_luma(clip), half_resolution_luma(clip)
    totals: dict[str, float] = {}
    for index in range(gap, FRAMES):
        reference, current = clip[index - gap][None], clip[index][None]
        flows = {"zero flow": np.zeros((2, *current.shape[-2:]), np.float32)}
        for preset in PRESETS:
            flows[f"{preset} half"] = dis_flow(preset, half[index], half[index - gap]).transpose(2, 0, 1)
            flows[f"{preset} full"] = half_resolution_flow(dis_flow(preset, full[index], full[index - gap]))
        for name, flow in flows.items():
            error = yuv_mse(warp(reference, torch.from_numpy(np.ascontiguousarray(flow))[None]), current).item()
            totals[name] = totals.get(name, 0.0) + error / (FRAMES - gap)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crop", type=int, default=256, help="luma crop side, even, at most 480 (default: 256)")
    parser.add_argument("--pairs", type=int, default=40, help="timed calls per figure (default: 40)")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    print(f"OpenCV {cv2.__version__}, torch {torch.__version__}, {platform.machine()}, one thread")
    snippet = example_snippet(arguments.crop)
    luma = full_resolution_luma(snippet)
    crop = arguments.crop
    for preset in PRESETS:
        milliseconds = 1000 * median_seconds(lambda preset=preset: dis_flow(preset, luma[1], luma[0]), arguments.pairs)
        print(f"DIS {preset:9s} {crop}x{crop} luma pair: {milliseconds:6.2f} ms")
    milliseconds = 1000 * median_seconds(lambda: dis_flow_targets(snippet), arguments.pairs)
    print(f"flow target of a 2-frame {crop}x{crop} snippet (dis_flow_targets): {milliseconds:6.2f} ms")
    for gap in (1, 4):
        errors = warping_errors(gap)
        print(f"warping MSE, frames {gap} apart: " + ", ".join(f"{name} {value:.5f}" for name, value in errors.items()))


if __name__ == "__main__":
    main()
