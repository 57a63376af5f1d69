"""Frame sizes and rates as users write them: on the command line and in file names.

Raw ``.yuv`` files carry no header, so test sequences conventionally put their geometry in the
name: ``BasketballDrive_1920x1080_50.yuv`` (JCT-VC), ``Beauty_1920x1080_120fps_420_8bit_YUV.yuv``
(UVG), ``RaceHorses_416x240_30.yuv``.  This module reads those conventions so that the common
case needs no ``--size`` and no ``--fps``.
"""

from __future__ import annotations

import os
import re
from fractions import Fraction

from cmfr_codec.errors import InputError

MAX_DIMENSION = 16384
"""Largest width or height accepted: beyond 16K a size is a typo, not a video."""

DEFAULT_FPS = Fraction(30)
"""Rate assumed for a raw ``.yuv`` whose rate is neither given nor in its name."""

_LARGEST_RATE_TERM = 2**31 - 1  # containers store rates as 32-bit fractions

_SIZE_TEXT = re.compile(r"\s*(\d+)\s*[xX]\s*(\d+)\s*")

_SEPARATOR = r"[_\-. ]"
_SIZE_AND_RATE_IN_NAME = re.compile(
    rf"(?:^|{_SEPARATOR})(?P<width>\d{{1,5}})x(?P<height>\d{{1,5}})"
    rf"(?:_(?P<rate>\d{{1,3}}(?:\.\d+)?)(?:fps|hz)?)?"
    rf"(?={_SEPARATOR}|$)",
    re.IGNORECASE,
)
_BIT_DEPTH_IN_NAME = re.compile(
    rf"(?:^|{_SEPARATOR})(?P<bits>\d{{1,2}})-?bits?(?={_SEPARATOR}|$)", re.IGNORECASE
)
_CHROMA_IN_NAME = re.compile(
    rf"(?:^|{_SEPARATOR})(?:yuv)?(?P<chroma>444|422|400)p?(?={_SEPARATOR}|$)", re.IGNORECASE
)


def checked_size(width: int, height: int) -> tuple[int, int]:
    """``(width, height)`` if both are usable frame dimensions, else an :class:`InputError`."""
    for name, value in (("width", width), ("height", height)):
        if not 1 <= value <= MAX_DIMENSION:
            raise InputError(f"frame {name} {value} is out of range: it must be 1 to {MAX_DIMENSION}")
    return width, height


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> ``(1920, 1080)``, the form of ``--size``."""
    match = _SIZE_TEXT.fullmatch(text)
    if match is None:
        raise InputError(f"invalid size '{text}': expected WIDTHxHEIGHT, for example 1920x1080")
    return checked_size(int(match.group(1)), int(match.group(2)))


def parse_fps(text: str) -> Fraction:
    """``"25"``, ``"29.97"`` or ``"30000/1001"`` as an exact fraction, the form of ``--fps``.

    A decimal is taken exactly as written (``29.97`` is 2997/100); the NTSC rate is
    ``30000/1001``.
    """
    try:
        rate = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise InputError(
            f"invalid frame rate '{text}': expected a number such as 25, 29.97 or 30000/1001"
        ) from None
    if rate <= 0:
        raise InputError(f"invalid frame rate '{text}': it must be greater than 0")
    if rate.numerator > _LARGEST_RATE_TERM or rate.denominator > _LARGEST_RATE_TERM:
        raise InputError(f"invalid frame rate '{text}': too many digits to store in a video file")
    return rate


def size_and_rate_from_name(path: str | os.PathLike[str]) -> tuple[int, int, Fraction | None] | None:
    """``(width, height, fps)`` from a name like ``Name_1920x1080_50fps.yuv``, else ``None``.

    The rate is ``None`` when the name gives a size but no rate (``akiyo_352x288.yuv``).
    """
    match = _SIZE_AND_RATE_IN_NAME.search(_stem(path))
    if match is None:
        return None
    width, height = int(match.group("width")), int(match.group("height"))
    if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
        return None
    rate_text = match.group("rate")
    rate = Fraction(rate_text) if rate_text is not None else None
    return width, height, rate if rate else None


def unsupported_format_in_name(path: str | os.PathLike[str]) -> str | None:
    """The part of a raw file's name that says it is not 8-bit 4:2:0 (``"10bit"``, ``"444"``), if any.

    A 10-bit or 4:4:4 raw file often has a length that is a whole number of 8-bit 4:2:0 frames
    too, so the name is the only warning before garbage frames are coded.
    """
    stem = _stem(path)
    size_and_rate = _SIZE_AND_RATE_IN_NAME.search(stem)
    if size_and_rate is not None:
        # The rate right after the size ("_1920x1080_422") must not be mistaken for 4:2:2.
        stem = stem[: size_and_rate.start()] + "_" + stem[size_and_rate.end() :]
    depth = _BIT_DEPTH_IN_NAME.search(stem)
    if depth is not None and int(depth.group("bits")) != 8:
        return depth.group(0).lstrip("_-. ")
    chroma = _CHROMA_IN_NAME.search(stem)
    if chroma is not None:
        return chroma.group(0).lstrip("_-. ")
    return None


def _stem(path: str | os.PathLike[str]) -> str:
    name = os.path.basename(os.fspath(path))
    return os.path.splitext(name)[0]
