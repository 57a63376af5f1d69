"""Small real test material cut from the example clip, raw-file helpers, and a tiny random model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cmfr_codec.io.frames import YuvFrame
from cmfr_codec.models.codec import CmfrCodec
from cmfr_codec.models.config import TINY

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CLIP = REPO / "examples" / "city_416x240_25fps.mkv"


def example_frames(count: int, width: int = 64, height: int = 48) -> list[YuvFrame]:
    """The first ``count`` frames of the example clip, cropped to ``width`` x ``height`` (real content, tiny)."""
    import av

    frames = []
    with av.open(str(EXAMPLE_CLIP)) as container:
        for decoded in container.decode(video=0):
            planes = decoded.to_ndarray()
            full_height, full_width = decoded.height, decoded.width
            luma = planes[:full_height]
            chroma = planes[full_height:].reshape(2, full_height // 2, full_width // 2)
            top, left = 96, 160
            chroma_height, chroma_width = (height + 1) // 2, (width + 1) // 2
            frames.append(
                YuvFrame(
                    y=np.ascontiguousarray(luma[top : top + height, left : left + width]),
                    u=np.ascontiguousarray(chroma[0, top // 2 : top // 2 + chroma_height, left // 2 : left // 2 + chroma_width]),
                    v=np.ascontiguousarray(chroma[1, top // 2 : top // 2 + chroma_height, left // 2 : left // 2 + chroma_width]),
                )
            )
            if len(frames) == count:
                break
    return frames


def write_raw_yuv(path: Path, frames: list[YuvFrame]) -> Path:
    with open(path, "wb") as handle:
        for frame in frames:
            handle.write(frame.to_bytes())
    return path


def scaled_example_frames(count: int, width: int, height: int) -> list[YuvFrame]:
    """The first ``count`` frames of the example clip scaled to ``height`` rows (aspect kept), centre-cropped to ``width``."""
    import av

    frames = []
    with av.open(str(EXAMPLE_CLIP)) as container:
        for decoded in container.decode(video=0):
            scaled_width = 2 * round(decoded.width * height / decoded.height / 2)
            planes = decoded.reformat(width=scaled_width, height=height, format="yuv420p").to_ndarray()
            left = (scaled_width - width) // 4 * 2
            chroma = planes[height:].reshape(2, height // 2, scaled_width // 2)
            frames.append(
                YuvFrame(
                    y=np.ascontiguousarray(planes[:height, left : left + width]),
                    u=np.ascontiguousarray(chroma[0, :, left // 2 : (left + width) // 2]),
                    v=np.ascontiguousarray(chroma[1, :, left // 2 : (left + width) // 2]),
                )
            )
            if len(frames) == count:
                break
    return frames


def random_tiny_codec() -> CmfrCodec:
    """The ``tiny`` preset with fixed random weights (seed 0) and its entropy tables built: a model
    for tests that need one to code real frames (never shipped)."""
    import torch

    torch.manual_seed(0)
    codec = CmfrCodec(TINY).eval()
    codec.update_tables()
    return codec
