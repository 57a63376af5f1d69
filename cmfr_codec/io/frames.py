"""The frame and stream descriptions that every reader and writer shares."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    """What a reader knows about a stream before its first frame.

    ``frame_count`` is the number of frames the reader will yield (after ``--skip`` and
    ``--frames``), or ``None`` when the container does not say and the stream must be read to
    the end to know.
    """

    width: int
    height: int
    fps: Fraction
    frame_count: int | None = None

    @property
    def chroma_width(self) -> int:
        return (self.width + 1) // 2

    @property
    def chroma_height(self) -> int:
        return (self.height + 1) // 2

    @property
    def frame_bytes(self) -> int:
        """Bytes of one 8-bit 4:2:0 frame (planar Y, U, V)."""
        return self.width * self.height + 2 * self.chroma_width * self.chroma_height


@dataclass(frozen=True)
class YuvFrame:
    """One 8-bit 4:2:0 frame as three planes (``uint8``).

    ``y`` is ``(height, width)``; ``u`` and ``v`` are ``(ceil(height/2), ceil(width/2))``, the
    layout of ffmpeg's ``yuv420p`` for odd sizes too.
    """

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    def __post_init__(self) -> None:
        height, width = self.y.shape
        chroma_shape = ((height + 1) // 2, (width + 1) // 2)
        for name, plane in (("y", self.y), ("u", self.u), ("v", self.v)):
            if plane.dtype != np.uint8 or plane.ndim != 2:
                raise ValueError(f"plane {name} must be a 2-D uint8 array, got {plane.dtype} {plane.shape}")
        if self.u.shape != chroma_shape or self.v.shape != chroma_shape:
            raise ValueError(f"chroma planes must be {chroma_shape} for a {width}x{height} frame")

    @property
    def width(self) -> int:
        return self.y.shape[1]

    @property
    def height(self) -> int:
        return self.y.shape[0]

    def planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.y, self.u, self.v

    def to_bytes(self) -> bytes:
        """The frame in raw ``yuv420p`` order: all of Y, then U, then V."""
        return self.y.tobytes() + self.u.tobytes() + self.v.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview, width: int, height: int) -> YuvFrame:
        luma = width * height
        chroma_shape = ((height + 1) // 2, (width + 1) // 2)
        chroma = chroma_shape[0] * chroma_shape[1]
        if len(data) != luma + 2 * chroma:
            raise ValueError(f"a {width}x{height} yuv420p frame has {luma + 2 * chroma} bytes, got {len(data)}")
        buffer = np.frombuffer(data, dtype=np.uint8)
        return cls(
            y=buffer[:luma].reshape(height, width).copy(),
            u=buffer[luma : luma + chroma].reshape(chroma_shape).copy(),
            v=buffer[luma + chroma :].reshape(chroma_shape).copy(),
        )
