"""What a cmfr bitstream holds, independent of how it is laid out in bytes.

The bounds here are the ones docs/bitstream.md promises.  The dataclasses check them on
construction, so a writer cannot produce a file that a reader would refuse, and the reader
builds its ``SequenceHeader`` through the same checks.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from fractions import Fraction

MAX_DIMENSION = 16384
MAX_FRAME_COUNT = 10_000_000
MAX_FPS_TERM = 2**31 - 1
QUALITY_LEVELS = 64
MAX_MODEL_NAME_LENGTH = 64
MAX_SUBSTREAMS = 64
MAX_SUBSTREAM_NAME_LENGTH = 32
MAX_PAYLOAD_BYTES = 2**32 - 1
WEIGHTS_DIGEST_BYTES = 32

PIXEL_FORMATS = ("yuv420p",)

_SUBSTREAM_NAME = re.compile(rf"[A-Za-z_][A-Za-z0-9_]{{0,{MAX_SUBSTREAM_NAME_LENGTH - 1}}}")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")


class FrameType(enum.Enum):
    """How a frame was coded; the value is the ASCII letter stored in its record."""

    INTRA = "I"
    PREDICTED = "P"


def is_substream_name(name: str) -> bool:
    """Whether ``name`` is a valid sub-stream name: an ASCII identifier of 1..32 characters."""
    return isinstance(name, str) and _SUBSTREAM_NAME.fullmatch(name) is not None


def is_model_name(name: str) -> bool:
    """Whether ``name`` can be stored as a model name: 1..64 printable ASCII characters."""
    return (
        isinstance(name, str)
        and len(name) <= MAX_MODEL_NAME_LENGTH
        and _PRINTABLE_ASCII.fullmatch(name) is not None
    )


def _check_substream_name(name: str) -> None:
    if not is_substream_name(name):
        raise ValueError(
            f"sub-stream name {name!r} is not an ASCII identifier of 1..{MAX_SUBSTREAM_NAME_LENGTH} characters"
        )


def _check_range(what: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what} {value!r} is outside {low}..{high}")


@dataclass(frozen=True)
class SequenceHeader:
    """Everything a decoder must know before the first frame.

    ``frame_count`` may be 0 while writing: the writer stores the number of frames it was
    actually given when it closes.  ``intra_period`` 0 means only the first frame is intra.
    ``substream_names`` is the name table: every sub-stream a record carries must be named
    in it, and records refer to names by their position in it, so a name is stored once per
    file instead of once per frame.
    """

    model_name: str
    weights_digest: bytes
    width: int
    height: int
    fps: Fraction
    frame_count: int
    quality_index: int
    intra_period: int
    substream_names: tuple[str, ...] = ()
    pixel_format: str = "yuv420p"

    def __post_init__(self) -> None:
        if not is_model_name(self.model_name):
            raise ValueError(
                f"model name {self.model_name!r} is not 1..{MAX_MODEL_NAME_LENGTH} printable ASCII characters"
            )
        if not isinstance(self.weights_digest, bytes) or len(self.weights_digest) != WEIGHTS_DIGEST_BYTES:
            raise ValueError(f"weights digest must be {WEIGHTS_DIGEST_BYTES} bytes (a SHA-256)")
        _check_range("width", self.width, 1, MAX_DIMENSION)
        _check_range("height", self.height, 1, MAX_DIMENSION)
        if not isinstance(self.fps, Fraction):
            raise ValueError(f"fps must be a Fraction, not {type(self.fps).__name__}")
        _check_range("fps numerator", self.fps.numerator, 1, MAX_FPS_TERM)
        _check_range("fps denominator", self.fps.denominator, 1, MAX_FPS_TERM)
        _check_range("frame count", self.frame_count, 0, MAX_FRAME_COUNT)
        _check_range("quality index", self.quality_index, 0, QUALITY_LEVELS - 1)
        _check_range("intra period", self.intra_period, 0, MAX_FRAME_COUNT)
        if self.pixel_format not in PIXEL_FORMATS:
            raise ValueError(f"pixel format {self.pixel_format!r} is not one of {', '.join(PIXEL_FORMATS)}")
        if not isinstance(self.substream_names, tuple):
            raise ValueError(f"sub-stream names must be a tuple, not {type(self.substream_names).__name__}")
        if len(self.substream_names) > MAX_SUBSTREAMS:
            raise ValueError(f"{len(self.substream_names)} sub-stream names, at most {MAX_SUBSTREAMS} allowed")
        for name in self.substream_names:
            _check_substream_name(name)
        if len(set(self.substream_names)) != len(self.substream_names):
            raise ValueError(f"sub-stream names {self.substream_names!r} repeat a name")


@dataclass(frozen=True)
class FrameRecord:
    """One coded frame: its type, its quality index and its named, opaque sub-streams.

    The container never interprets the sub-streams; their order is kept as given.
    """

    frame_type: FrameType
    quality_index: int
    substreams: dict[str, bytes]

    def __post_init__(self) -> None:
        if not isinstance(self.frame_type, FrameType):
            raise ValueError(f"frame type must be a FrameType, not {self.frame_type!r}")
        _check_range("quality index", self.quality_index, 0, QUALITY_LEVELS - 1)
        if len(self.substreams) > MAX_SUBSTREAMS:
            raise ValueError(f"{len(self.substreams)} sub-streams, at most {MAX_SUBSTREAMS} allowed")
        for name, data in self.substreams.items():
            _check_substream_name(name)
            if not isinstance(data, bytes):
                raise ValueError(f"sub-stream {name!r} must be bytes, not {type(data).__name__}")
        if self.payload_bytes > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload of {self.payload_bytes} bytes exceeds {MAX_PAYLOAD_BYTES}")
        # A private copy: the caller's dict could otherwise change after it was validated.
        object.__setattr__(self, "substreams", dict(self.substreams))

    @property
    def payload_bytes(self) -> int:
        """Bytes of sub-stream data this record carries on disk (names and sizes not included)."""
        return sum(len(data) for data in self.substreams.values())


@dataclass(frozen=True)
class RecordInfo:
    """What ``cmfr info`` shows about one frame record, found without decoding it."""

    frame_number: int
    frame_type: FrameType
    quality_index: int
    offset: int
    record_bytes: int
    substream_sizes: dict[str, int]
    crc_ok: bool
