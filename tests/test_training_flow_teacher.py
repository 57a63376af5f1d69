"""The motion stage's DIS teacher: targets in the codec's flow units and direction, and a clear stop without OpenCV."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from clips import example_frames

from cmfr_codec.data.dataset import planes_to_tensor
from cmfr_codec.errors import InputError
from cmfr_codec.io.frames import YuvFrame
from cmfr_codec.models.motion import warp
from cmfr_codec.training.flow_teacher import (
    dis_flow_targets,
    full_resolution_luma,
    opencv_available,
    require_flow_teacher,
)
from cmfr_codec.training.stages import load_stage, with_overrides

needs_opencv = pytest.mark.skipif(not opencv_available(), reason="needs opencv-python-headless (the test extra)")


def _tensor(frame: YuvFrame, top: int = 0, left: int = 0, size: int = 64) -> torch.Tensor:
    """The (6, size/2, size/2) tensor of a size x size crop of ``frame`` at even (top, left)."""
    rows, columns = slice(top, top + size), slice(left, left + size)
    chroma_rows, chroma_columns = slice(top // 2, (top + size) // 2), slice(left // 2, (left + size) // 2)
    return planes_to_tensor(frame.y[None, rows, columns], frame.u[None, chroma_rows, chroma_columns],
                            frame.v[None, chroma_rows, chroma_columns])[0]


def test_the_teacher_sees_the_frames_luma_exactly_from_floats_and_from_codes():
    frame = example_frames(1, 64, 64)[0]
    floats = _tensor(frame)[None]
    codes = planes_to_tensor(frame.y[None], frame.u[None], frame.v[None], as_uint8=True)
    assert (full_resolution_luma(floats) == frame.y).all()
    assert (full_resolution_luma(codes) == frame.y).all()


@needs_opencv
@pytest.mark.parametrize(("right", "down"), [(4, 0), (0, -2), (8, 6)])
def test_a_known_shift_of_real_content_gives_that_backward_flow_in_half_resolution_pixels(right: int, down: int):
    # current(p) = reference(p + shift) in luma pixels, so the backward flow of the half-resolution
    # grid is shift / 2, pointing from the current frame into the reference.  128x128 crops: on
    # 64x64 ones DIS's pyramid is too shallow for shifts of 6 luma pixels or more.
    frame = example_frames(1, 160, 144)[0]
    reference, current = _tensor(frame, 8, 8, 128), _tensor(frame, 8 + down, 8 + right, 128)
    target = dis_flow_targets(torch.stack([reference, current]))
    assert target.shape == (1, 2, 64, 64) and target.dtype == torch.float32
    inner = target[0, :, 4:-4, 4:-4]
    assert inner[0].median().item() == pytest.approx(right / 2, abs=0.05)
    assert inner[1].median().item() == pytest.approx(down / 2, abs=0.05)


@needs_opencv
def test_warping_the_reference_with_the_target_brings_it_closer_to_the_current_frame():
    frames = example_frames(5, 64, 64)
    snippet = torch.stack([_tensor(frames[0]), _tensor(frames[4])])  # 160 ms apart: a street scene in motion
    target = dis_flow_targets(snippet)
    reference, current = snippet[:1], snippet[1:]

    def warping_error(flow: torch.Tensor) -> float:
        return (warp(reference, flow) - current).pow(2).mean().item()

    assert warping_error(target) < 0.8 * warping_error(torch.zeros_like(target))
    assert warping_error(target) < warping_error(-target), "the flow points from the current frame into the reference"
    assert warping_error(target) < warping_error(2 * target), "the flow is in half-resolution pixels"


@needs_opencv
def test_a_snippet_of_t_frames_gets_the_flow_of_each_frame_to_the_one_before():
    frames = example_frames(3, 64, 64)
    snippet = torch.stack([_tensor(frame) for frame in frames])
    targets = dis_flow_targets(snippet)
    assert targets.shape == (2, 2, 32, 32)
    assert torch.equal(targets[1], dis_flow_targets(snippet[1:])[0])


def test_without_opencv_a_distilling_stage_is_refused_before_training(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    motion = with_overrides(load_stage("motion"), distill_steps=100)
    with pytest.raises(InputError, match="needs the Python package opencv-python-headless.*--distill-steps 0"):
        require_flow_teacher(motion, first_step=1)
    require_flow_teacher(motion, first_step=101)  # resumed after distillation: OpenCV is not needed
    require_flow_teacher(load_stage("intra"), first_step=1)


def test_cmfr_train_without_opencv_stops_in_one_line_and_distill_steps_0_trains(monkeypatch: pytest.MonkeyPatch,
                                                                                  run_cmfr, tmp_path: Path):
    from training_data import make_prepared_set

    prepared = make_prepared_set(tmp_path / "set")
    monkeypatch.setitem(sys.modules, "cv2", None)
    tiny = ("--model-config", "tiny", "--batch", "1", "--crop", "64", "--steps", "1", "--workers", "0",
            "--validation-clips", "1", "--device", "cpu", "--data", prepared)
    refused = run_cmfr("train", "--output", tmp_path / "all", *tiny)
    assert refused.exit_code == 2, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "opencv-python-headless" in refused.stderr and "--distill-steps 0" in refused.stderr
    assert not (tmp_path / "all" / "intra").exists(), "no stage ran before the refusal"
    trained = run_cmfr("train", "--stage", "motion", "--distill-steps", "0", "--output", tmp_path / "motion", *tiny)
    assert trained.exit_code == 0, trained.stderr
    assert (tmp_path / "motion" / "motion" / "checkpoint.pt").is_file()
