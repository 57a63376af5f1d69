"""Scene cuts and clip selection, on luma thumbnails, one frame at a time.

Cut detector: the difference of frame t is the mean absolute difference (in 8-bit code values)
between the luma thumbnails (about 64 pixels wide, block means) of frames t-1 and t.  Frame t
starts a new shot when its difference is at least ``threshold`` (8) *and* at least ``ratio`` (3)
times the median difference of the ``window`` (5) frames on either side.  The absolute floor
ignores noise in still scenes; the ratio ignores fast motion and pans, whose differences are high
but high for many frames in a row, while a cut is an isolated spike.  Looking ahead ``window``
frames means each decision comes ``window`` frames late, which the streaming interface hides.

Clip selector: clips are ``clip_frames`` consecutive frames of one shot, never crossing a cut.  A
clip starts at the first frame at or after ``next_start`` whose window fits in the shot and whose
frames are all detailed enough (thumbnail standard deviation at least ``flat_threshold``: black
frames, fades and flat titles are skipped); the next clip may start ``spacing`` frames after it
(``spacing`` below the clip length packs clips back to back).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

CUT_THRESHOLD = 8.0
CUT_RATIO = 3.0
CUT_WINDOW = 5
FLAT_THRESHOLD = 8.0
THUMBNAIL_WIDTH = 64

Item = TypeVar("Item")


def thumbnail(luma: np.ndarray, width: int = THUMBNAIL_WIDTH) -> np.ndarray:
    """A float32 luma thumbnail about ``width`` pixels wide: means of square blocks (the remainder is cropped)."""
    height, full_width = luma.shape
    block = max(1, full_width // width)
    rows, columns = height // block, full_width // block
    cropped = luma[: rows * block, : columns * block].astype(np.float32)
    return cropped.reshape(rows, block, columns, block).mean(axis=(1, 3))


def frame_difference(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails, in code values."""
    return float(np.abs(current - previous).mean())


class SceneCutDetector:
    """Feed thumbnails in order with :meth:`push`; get back ``(frame_index, starts_shot)`` decisions.

    Decisions come ``window`` frames late; :meth:`finish` returns the remaining ones.
    """

    def __init__(self, threshold: float = CUT_THRESHOLD, ratio: float = CUT_RATIO, window: int = CUT_WINDOW):
        self.threshold = threshold
        self.ratio = ratio
        self.window = window
        self._differences: list[float] = []  # _differences[t] belongs to frame t (frame 0 has none: 0.0)
        self._previous: np.ndarray | None = None
        self._decided = 0

    def push(self, thumb: np.ndarray) -> list[tuple[int, bool]]:
        if self._previous is not None and thumb.shape != self._previous.shape:
            raise ValueError(f"thumbnail shape changed from {self._previous.shape} to {thumb.shape}")
        self._differences.append(0.0 if self._previous is None else frame_difference(self._previous, thumb))
        self._previous = thumb
        return self._decide(len(self._differences) - 1 - self.window)

    def finish(self) -> list[tuple[int, bool]]:
        return self._decide(len(self._differences) - 1)

    def _decide(self, last: int) -> list[tuple[int, bool]]:
        decisions = []
        while self._decided <= last:
            decisions.append((self._decided, self._starts_shot(self._decided)))
            self._decided += 1
        return decisions

    def _starts_shot(self, index: int) -> bool:
        if index == 0:
            return True
        difference = self._differences[index]
        if difference < self.threshold:
            return False
        low = max(1, index - self.window)
        high = min(len(self._differences), index + self.window + 1)
        neighbours = self._differences[low:index] + self._differences[index + 1 : high]
        typical = float(np.median(neighbours)) if neighbours else 0.0
        return difference >= self.ratio * max(typical, 1.0)


def find_cuts(thumbnails: Iterable[np.ndarray], **settings: float) -> list[int]:
    """Indices of the frames that start a new shot, the first frame excluded."""
    detector = SceneCutDetector(**settings)
    decisions = []
    for thumb in thumbnails:
        decisions += detector.push(thumb)
    decisions += detector.finish()
    return [index for index, starts_shot in decisions if starts_shot and index > 0]


@dataclass(frozen=True)
class Candidate(Generic[Item]):
    """A frame offered to the clip selector: its index, whatever the caller keeps of it, and its detail."""

    index: int
    item: Item
    detail: float


class ClipSelector(Generic[Item]):
    """Turns a stream of decided frames into clips of consecutive frames within one shot."""

    def __init__(self, clip_frames: int, spacing: int, flat_threshold: float = FLAT_THRESHOLD):
        if clip_frames < 1:
            raise ValueError(f"clip_frames must be 1 or more, got {clip_frames}")
        self.clip_frames = clip_frames
        self.spacing = max(spacing, clip_frames)
        self.flat_threshold = flat_threshold
        self._run: deque[Candidate[Item]] = deque(maxlen=clip_frames)
        self._next_start = 0

    def push(self, candidate: Candidate[Item], starts_shot: bool) -> Sequence[Candidate[Item]] | None:
        """Offer the next frame; returns a clip when one is complete, else ``None``."""
        if starts_shot:
            self._run.clear()
        self._run.append(candidate)
        if len(self._run) < self.clip_frames or self._run[0].index < self._next_start:
            return None
        if min(frame.detail for frame in self._run) < self.flat_threshold:
            return None
        clip = tuple(self._run)
        self._run.clear()
        self._next_start = clip[0].index + self.spacing
        return clip
