"""How a prepared frame is stored: the three planes of a ``yuv420p`` frame tiled into one grey picture.

::

    +-------------------+
    |         Y         |  height x width
    |                   |
    +---------+---------+
    |    U    |    V    |  height/2 x width/2 each
    +---------+---------+

Shards code these pictures as monochrome (4:0:0) H.264 tagged full range.  Any H.264 decoder
returns the tiled picture exactly (decoding is bit-exact by the standard), and no decoder applies a
colour conversion to a grey picture: OpenCV's BGR output has B = G = R = the stored samples.  So
the loader gets back the very ``yuv420p`` samples that ``prepare`` chose, with no colour matrix
involved on either side.  Sizes are even, so the chroma planes are exactly half the luma's; the
prepared set also keeps them multiples of 4, so the tiled picture has an even number of rows.
"""

from __future__ import annotations

import numpy as np

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "cmfr-prepared/1"


def tiled_shape(width: int, height: int) -> tuple[int, int]:
    """(rows, columns) of the tiled picture of a ``width`` x ``height`` frame."""
    check_even_size(width, height)
    return height + height // 2, width


def check_even_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"prepared frames have even sizes, got {width}x{height}")


def tile(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """One (height * 3/2, width) uint8 picture holding Y above U and V side by side."""
    height, width = y.shape
    check_even_size(width, height)
    if u.shape != (height // 2, width // 2) or v.shape != u.shape:
        raise ValueError(f"chroma planes must be {(height // 2, width // 2)} for a {width}x{height} frame")
    picture = np.empty(tiled_shape(width, height), dtype=np.uint8)
    picture[:height] = y
    picture[height:, : width // 2] = u
    picture[height:, width // 2 :] = v
    return picture


def untile(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of tiled pictures (..., height * 3/2, width)."""
    rows, width = picture.shape[-2:]
    if rows % 3 or width % 2:
        raise ValueError(f"a tiled picture has 3*height/2 rows and an even width, got {rows}x{width}")
    height = rows * 2 // 3
    return (
        picture[..., :height, :],
        picture[..., height:, : width // 2],
        picture[..., height:, width // 2 :],
    )
