"""OpenCV's DIS optical flow as a teacher for the motion stage's flow estimator.

No pretrained optical flow can be had offline, and a flow estimator that starts from zero learns
slowly from the warping loss alone (its gradient is local and reaches the estimator only through
the motion coder).  DIS (Kroeger et al. 2016, ``cv2.DISOpticalFlow``) needs no weights, so its
flow serves as a target for the first steps (:class:`~cmfr_codec.training.stages.StageConfig`'s
``distill_steps``)::

    snippet (T, 6, h, w) --luma phases put back together--> (T, 2h, 2w) uint8 luma
        --DIS MEDIUM, calc(frame t, frame t-1)--> backward flow, full-resolution pixels
        --2x2 mean, x 0.5--> (T-1, 2, h, w): the flow of frame t to frame t-1 in the units of
                              models/motion.py, so warp(frame t-1, target) approximates frame t

DIS runs on the full-resolution luma and the result is brought to the half-resolution grid the
codec's flow lives on (the exact 2x2 averaging of ``resize_flow`` when halving; a displacement
of two luma pixels is one pixel of that grid): on the example clip this warps better than DIS run
on the half-resolution luma (docs/training.md).  It runs in the DataLoader workers, on the
original frames (the estimator itself sees the decoded reference), and is deterministic: the same
frames give the same flow whatever OpenCV's thread count.  OpenCV is optional (the ``data``
extra); nothing here imports it before it is used.

The training videos move little (half their pixels less than 0.1 pixel between frames,
``benchmarks/flow_stats.py``), and DIS's flow is arbitrary where the picture is flat, so a share
of the distilling pairs (``synthetic_motion``) are made instead, with a flow known exactly
(:func:`synthetic_motion`): frame 0 of a snippet moved by a random smooth flow becomes its frame 1.
A new estimator learns real motion from these within a few hundred steps, and from DIS's targets
on the training videos alone it did not (docs/training.md, "A cost volume, frame strides and
synthetic motion").
"""

from __future__ import annotations

import importlib.util

import numpy as np
import torch
import torch.nn.functional as F

from cmfr_codec.errors import InputError
from cmfr_codec.models.motion import warp
from cmfr_codec.training.stages import StageConfig

OPENCV_PACKAGE = "opencv-python-headless"
DIS_PRESET = "MEDIUM"
"""``cv2.DISOPTICAL_FLOW_PRESET_MEDIUM``: 10-12 % less warping error than FAST on the example clip, for
about 10 ms per 256x256 luma pair on one core instead of 1.2 (docs/training.md), spent in the workers."""


def opencv_available() -> bool:
    """Whether ``cv2`` can be imported here (without importing it)."""
    try:
        return importlib.util.find_spec("cv2") is not None
    except (ImportError, ValueError):
        return False


def require_flow_teacher(stage: StageConfig, first_step: int) -> None:
    """InputError, before any training, when ``stage`` distils from ``first_step`` on and OpenCV is missing."""
    if stage.distill_steps >= first_step and not opencv_available():
        raise InputError(
            f"stage {stage.name} distils OpenCV's DIS optical flow, which needs the Python package {OPENCV_PACKAGE}: "
            f"pip install {OPENCV_PACKAGE} (the 'data' extra), or pass --distill-steps 0 to train without distillation"
        )


def one_opencv_thread(worker: int) -> None:
    """DataLoader ``worker_init_fn``: one OpenCV thread per worker, as torch gives each worker one thread,
    so that the workers' DIS does not compete with training for every core."""
    import cv2

    cv2.setNumThreads(1)


def full_resolution_luma(frames: torch.Tensor) -> np.ndarray:
    """(T, 6, h, w) tensors (uint8 codes or [0, 1] floats) -> (T, 2h, 2w) uint8 luma, exact.

    Channels 0-3 are the luma phases (row, column) = (0,0), (0,1), (1,0), (1,1)
    (:func:`~cmfr_codec.data.dataset.planes_to_tensor`); this interleaves them back.
    """
    phases = frames[:, :4].numpy()
    if phases.dtype != np.uint8:
        phases = np.rint(phases * np.float32(255.0)).astype(np.uint8)
    count, _, height, width = phases.shape
    interleaved = phases.reshape(count, 2, 2, height, width).transpose(0, 3, 1, 4, 2)
    return np.ascontiguousarray(interleaved.reshape(count, 2 * height, 2 * width))


def half_resolution_flow(flow: np.ndarray) -> np.ndarray:
    """A (2h, 2w, 2) flow in full-resolution pixels -> (2, h, w) in half-resolution pixels:
    the mean of each 2x2 block, halved, as ``models.motion.resize_flow`` halves a flow."""
    rows, columns = flow.shape[0] // 2, flow.shape[1] // 2
    blocks = flow.reshape(rows, 2, columns, 2, 2).mean(axis=(1, 3), dtype=np.float32)
    return np.ascontiguousarray((blocks * np.float32(0.5)).transpose(2, 0, 1))


def dis_flow_targets(snippet: torch.Tensor) -> torch.Tensor:
    """(T, 6, h, w) -> (T-1, 2, h, w) float32: for each frame t >= 1, DIS's backward flow to frame t-1."""
    import cv2

    luma = full_resolution_luma(snippet)
    dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{DIS_PRESET}"))
    flows = [half_resolution_flow(dis.calc(luma[index], luma[index - 1], None)) for index in range(1, len(luma))]
    return torch.from_numpy(np.stack(flows))


SYNTHETIC_SHIFT = 8.0
"""Largest shift of a synthetic pair's global motion, per axis, in half-resolution pixels (16 luma pixels)."""
SYNTHETIC_LOCAL = 3.0
"""Largest local motion added to the shift, per axis: a 4x4 grid of random vectors, bicubically interpolated."""
SYNTHETIC_GRID = 4


def synthetic_motion(snippet: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(2, 6, h, w) -> a pair whose frame 1 is frame 0 backward-warped by a random smooth flow, and that
    flow, (1, 2, h, w) in half-resolution pixels: exactly the target :func:`dis_flow_targets` approximates.

    The flow is a uniform random shift of up to :data:`SYNTHETIC_SHIFT` per axis plus up to
    :data:`SYNTHETIC_LOCAL` of smooth local motion; samples beyond the edges take the edge's value.
    uint8 snippets stay uint8 (the warped frame rounded).
    """
    if snippet.dim() != 4 or snippet.shape[0] != 2:
        raise ValueError(f"synthetic motion makes pairs: expected (2, C, h, w), got {tuple(snippet.shape)}")
    height, width = snippet.shape[-2:]
    shift = rng.uniform(-SYNTHETIC_SHIFT, SYNTHETIC_SHIFT, (1, 2, 1, 1))
    local = rng.uniform(-SYNTHETIC_LOCAL, SYNTHETIC_LOCAL, (1, 2, SYNTHETIC_GRID, SYNTHETIC_GRID))
    smooth = F.interpolate(torch.from_numpy(local.astype(np.float32)), size=(height, width), mode="bicubic",
                           align_corners=False)
    flow = smooth + torch.from_numpy(shift.astype(np.float32))
    reference = snippet[:1].float() / 255.0 if snippet.dtype == torch.uint8 else snippet[:1]
    moved = warp(reference, flow)
    if snippet.dtype == torch.uint8:
        moved = (moved * 255.0).round().clamp(0, 255).to(torch.uint8)
    return torch.cat([snippet[:1], moved.to(snippet.dtype)]), flow
