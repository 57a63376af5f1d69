"""Scene cuts, clip selection and the tiled picture layout of the prepared set."""

from __future__ import annotations

import av
import numpy as np
import pytest
from clips import EXAMPLE_CLIP

from cmfr_codec.data.layout import tile, untile
from cmfr_codec.data.scenes import Candidate, ClipSelector, find_cuts, thumbnail


def _example_luma(count: int) -> list[np.ndarray]:
    with av.open(str(EXAMPLE_CLIP)) as container:
        frames = [frame.to_ndarray()[:240] for _, frame in zip(range(count), container.decode(video=0), strict=False)]
    return frames


def test_thumbnails_are_about_64_pixels_wide():
    assert thumbnail(np.zeros((288, 512), np.uint8)).shape == (36, 64)
    assert thumbnail(np.zeros((240, 416), np.uint8)).shape == (40, 69)


def test_a_cut_between_two_shots_of_real_video_is_found_where_it_is():
    frames = _example_luma(24)
    other_shot = [frame[::-1, ::-1] for frame in frames[12:]]
    assert find_cuts(thumbnail(frame) for frame in frames[:12] + other_shot) == [12]


def test_continuous_real_video_has_no_cut():
    assert find_cuts(thumbnail(frame) for frame in _example_luma(32)) == []


def test_a_fast_steady_pan_is_not_a_cut():
    texture = np.random.default_rng(5).integers(0, 256, (64, 2000), dtype=np.uint8)
    smooth = (texture.astype(np.float32) + np.roll(texture, 1, axis=1)) / 2
    pan = [smooth[:, 24 * step : 24 * step + 256] for step in range(30)]
    differences = np.abs(np.diff(np.stack([thumbnail(frame) for frame in pan]), axis=0)).mean(axis=(1, 2))
    assert differences.min() > 8, "the pan must move enough to pass the absolute threshold"
    assert find_cuts(thumbnail(frame) for frame in pan) == []


def _select(starts_shot: list[bool], clip_frames: int, spacing: int, detail: list[float] | None = None) -> list[list[int]]:
    selector: ClipSelector[int] = ClipSelector(clip_frames, spacing)
    clips = []
    for index, starts in enumerate(starts_shot):
        clip = selector.push(Candidate(index, index, 50.0 if detail is None else detail[index]), starts)
        if clip is not None:
            clips.append([frame.index for frame in clip])
    return clips


def test_clips_never_cross_a_cut():
    starts_shot = [index in (0, 5, 13) for index in range(20)]
    assert _select(starts_shot, clip_frames=3, spacing=0) == [[0, 1, 2], [5, 6, 7], [8, 9, 10], [13, 14, 15], [16, 17, 18]]


def test_clips_start_spacing_frames_apart():
    assert _select([index == 0 for index in range(30)], clip_frames=3, spacing=10) == [[0, 1, 2], [10, 11, 12], [20, 21, 22]]


def test_flat_frames_are_not_used():
    detail = [50.0] * 12
    detail[1] = 2.0
    assert _select([index == 0 for index in range(12)], clip_frames=3, spacing=0, detail=detail) == [[2, 3, 4], [5, 6, 7], [8, 9, 10]]


def test_tiling_round_trips_the_planes():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 256, (6, 8), dtype=np.uint8)
    u, v = (rng.integers(0, 256, (3, 4), dtype=np.uint8) for _ in range(2))
    picture = tile(y, u, v)
    assert picture.shape == (9, 8)
    for original, back in zip((y, u, v), untile(picture), strict=True):
        np.testing.assert_array_equal(original, back)


def test_odd_sizes_are_refused():
    with pytest.raises(ValueError, match="even"):
        tile(np.zeros((5, 8), np.uint8), np.zeros((3, 4), np.uint8), np.zeros((3, 4), np.uint8))
