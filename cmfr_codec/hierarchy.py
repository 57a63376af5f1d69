"""The quality hierarchy: which quality index each frame is coded at (encoder only; no heavy imports).

A stream is requested at one quality index, but every frame record carries its own
(docs/bitstream.md), and the decoder reads it from there.  So the encoder may code some frames
better than others, as x264 and x265 code I-frames at a finer QP than P-frames (``--ipratio``),
and as learned codecs since DCVC-DC code every few P-frames at a higher quality.  cmfr's default::

    frame          I   P   P   P   P   P   P   P   P   I ...
    position       0   1   2   3   4   5   6   7   8   0       (frames since the last I-frame)
    quality index q+b  q   q   q  q+b  q   q   q  q+b q+b      (period 4, boost b = 24; never above 63)

Each I-frame and every ``period``-th P-frame after it (the hierarchy's anchors) are coded
``boost`` indices above the requested quality, the P-frames between them at it.  Each P-frame
references the one before it, so an anchor's better picture carries over into the cheaper frames
after it, and the bits it costs buy more quality than they would spread evenly: at the same rate
the sequence's picture is better (docs/models.md, "The quality hierarchy", measured by
``benchmarks/hierarchy_cost.py``).  At quality 63 there is nothing above to boost to, so the top
of the range codes every frame at 63, as it did before the hierarchy.  ``period = 1`` or
``boost = 0`` codes every frame at the requested quality.
"""

from __future__ import annotations

from dataclasses import dataclass

from cmfr_codec.bitstream.records import QUALITY_LEVELS

DEFAULT_HIERARCHY_PERIOD = 4
DEFAULT_HIERARCHY_BOOST = 24


@dataclass(frozen=True)
class QualityHierarchy:
    """Each I-frame and every ``period``-th frame after it ``boost`` indices above the requested quality."""

    period: int = DEFAULT_HIERARCHY_PERIOD
    boost: int = DEFAULT_HIERARCHY_BOOST

    def __post_init__(self) -> None:
        if self.period < 1:
            raise ValueError(f"the hierarchy period must be 1 or more, got {self.period}")
        if not 0 <= self.boost < QUALITY_LEVELS:
            raise ValueError(f"the hierarchy boost must lie in 0..{QUALITY_LEVELS - 1}, got {self.boost}")

    def boosts(self, position: int) -> bool:
        """Whether the frame ``position`` frames after the last I-frame (0: the I-frame) is an anchor coded higher."""
        return self.period > 1 and self.boost > 0 and position % self.period == 0

    def frame_quality(self, quality_index: int, position: int) -> int:
        """The quality index of the frame ``position`` frames after the last I-frame (0: the I-frame)."""
        if self.boosts(position):
            return min(QUALITY_LEVELS - 1, quality_index + self.boost)
        return quality_index


DEFAULT_HIERARCHY = QualityHierarchy()
"""The encoder's default: period 4, boost 24."""

FLAT = QualityHierarchy(period=1, boost=0)
"""Every frame at the requested quality."""
