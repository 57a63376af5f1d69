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
"""

from __future__ import annotations

import importlib.util

import numpy as np
import torch

from cmfr_codec.errors import InputError
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
