"""x264, x265 and SVT-AV1 through PyAV, configured for low delay like the learned codec.

Low delay means every frame is coded in display order from past frames only: no B-frames, an
I-frame every ``intra_period`` frames (0: only the first), no scene-cut I-frames and no open GOPs::

    x264     preset=P crf|qp=N  x264-params=bframes=0:keyint=K:scenecut=0:open-gop=0
    x265     preset=P crf=N     x265-params=bframes=0:keyint=K:scenecut=0:open-gop=0:info=0[:qp=N]:log-level=error
    SVT-AV1  preset=P crf=N     svtav1-params=pred-struct=1:keyint=K:scd=0          (pred-struct=1: low delay)

The encoder context runs with ``thread_type='FRAME'`` and libavcodec's automatic thread count.
The coded data is the list of packets the encoder returns, with no container around them: their
sizes added up are the bits, parameter sets included.  Not counted: the text the encoders write
about themselves (version and settings), which decodes nothing and would weigh heavily on short
test clips; x265 is told not to write it (``info=0``), and x264, which has no such switch, has its
user-data SEI NAL units removed from the packets.  Decoding feeds exactly the counted bytes to
FFmpeg's h264 / hevc decoder or dav1d.  Odd frame sizes, which x264 and x265 refuse in 4:2:0, are padded by one
replicated luma row or column before encoding and cropped after decoding.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from cmfr_codec.errors import CmfrError
from cmfr_codec.io.frames import YuvFrame

PIXEL_FORMAT = "yuv420p"


@dataclass(frozen=True)
class Baseline:
    """One PyAV encoder/decoder pair and how its low-delay options are spelled."""

    name: str
    encoder: str
    decoder: str
    even_size: bool
    drops_user_data_sei: bool = False

    def options(self, point: int, intra_period: int, preset: str, rate_control: str) -> dict[str, str]:
        """The encoder options (``CodecContext.options``) for one rate point."""
        if self.name == "x264":
            keyint = str(intra_period) if intra_period > 0 else "infinite"
            return {
                "preset": preset,
                rate_control: str(point),
                "x264-params": f"bframes=0:keyint={keyint}:scenecut=0:open-gop=0",
            }
        if self.name == "x265":
            keyint = str(intra_period) if intra_period > 0 else "-1"
            rate = {"crf": str(point)} if rate_control == "crf" else {}
            constant_qp = f":qp={point}" if rate_control == "qp" else ""
            return {
                "preset": preset,
                **rate,
                "x265-params": f"bframes=0:keyint={keyint}:scenecut=0:open-gop=0:info=0{constant_qp}:log-level=error",
            }
        keyint = str(intra_period) if intra_period > 0 else "-1"
        return {"preset": preset, "crf": str(point), "svtav1-params": f"pred-struct=1:keyint={keyint}:scd=0"}


BASELINES = {
    baseline.name: baseline
    for baseline in (
        Baseline("x264", "libx264", "h264", even_size=True, drops_user_data_sei=True),
        Baseline("x265", "libx265", "hevc", even_size=True),
        Baseline("svtav1", "libsvtav1", "libdav1d", even_size=False),
    )
}


@dataclass
class CodedSequence:
    """What a baseline encoder produced: the packets' bytes, which are keyframes, and the time spent."""

    packets: list[bytes] = field(default_factory=list)
    keyframes: list[bool] = field(default_factory=list)
    encode_seconds: float = 0.0

    @property
    def coded_bytes(self) -> int:
        return sum(len(packet) for packet in self.packets)


_START_CODE = re.compile(b"\x00\x00\x01")
_SEI = 6
_USER_DATA_UNREGISTERED = 5


def without_user_data_sei(data: bytes) -> bytes:
    """H.264 Annex B ``data`` without the SEI NAL units whose first message is user data (payload type 5).

    x264 writes its version and settings this way.  Every other NAL unit is kept byte for byte.
    """
    starts = [match.start() for match in _START_CODE.finditer(data)]
    if not starts:
        return data
    # A four-byte start code is a zero byte followed by the three-byte one; it belongs to its unit.
    bounds = [start - 1 if start > 0 and data[start - 1] == 0 else start for start in starts]
    kept = [data[: bounds[0]]]
    for start, begin, end in zip(starts, bounds, [*bounds[1:], len(data)], strict=True):
        header = start + 3
        is_user_data = (
            header + 1 < len(data) and data[header] & 0x1F == _SEI and data[header + 1] == _USER_DATA_UNREGISTERED
        )
        if not is_user_data:
            kept.append(data[begin:end])
    return b"".join(kept)


def _quiet_encoders() -> None:
    # SVT-AV1 prints its configuration to stderr unless told otherwise; errors still reach PyAV.
    os.environ.setdefault("SVT_LOG", "1")
    import av

    av.logging.set_level(av.logging.ERROR)


def _padded(frame: YuvFrame, width: int, height: int) -> YuvFrame:
    """``frame`` with its luma replicated to ``width`` x ``height`` (chroma already covers odd sizes)."""
    if (frame.width, frame.height) == (width, height):
        return frame
    luma = np.pad(frame.y, ((0, height - frame.height), (0, width - frame.width)), mode="edge")
    return YuvFrame(luma, frame.u, frame.v)


def _to_av(frame: YuvFrame, number: int):
    import av

    picture = av.VideoFrame(frame.width, frame.height, PIXEL_FORMAT)
    for plane, pixels in zip(picture.planes, frame.planes(), strict=True):
        view = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
        view[:, : plane.width] = pixels
    picture.pts = number
    return picture


def _coded_size(baseline: Baseline, width: int, height: int) -> tuple[int, int]:
    if baseline.even_size:
        return width + width % 2, height + height % 2
    return width, height


def encode_frames(
    baseline: Baseline, options: dict[str, str], frames: Iterable[YuvFrame], width: int, height: int, fps: Fraction
) -> CodedSequence:
    """Encode ``frames`` with ``options``; the packets are copied out as plain bytes."""
    import av

    _quiet_encoders()
    coded_width, coded_height = _coded_size(baseline, width, height)
    context = av.CodecContext.create(baseline.encoder, "w")
    context.width, context.height = coded_width, coded_height
    context.pix_fmt = PIXEL_FORMAT
    context.time_base = Fraction(1) / fps
    context.framerate = fps
    context.max_b_frames = 0
    context.thread_type = "FRAME"
    context.options = options
    coded = CodedSequence()

    def keep(packets: list) -> None:
        for packet in packets:
            data = bytes(packet)
            coded.packets.append(without_user_data_sei(data) if baseline.drops_user_data_sei else data)
            coded.keyframes.append(bool(packet.is_keyframe))

    try:
        for number, frame in enumerate(frames):
            picture = _to_av(_padded(frame, coded_width, coded_height), number)
            started = time.perf_counter()
            keep(context.encode(picture))
            coded.encode_seconds += time.perf_counter() - started
        started = time.perf_counter()
        keep(context.encode(None))
        coded.encode_seconds += time.perf_counter() - started
    except av.FFmpegError as error:
        raise CmfrError(f"{baseline.name} ({baseline.encoder}) failed to encode: {error}") from None
    return coded


@dataclass
class DecodeClock:
    """Seconds spent inside the decoder, added up while the frames are consumed."""

    seconds: float = 0.0


def decode_packets(baseline: Baseline, packets: list[bytes], width: int, height: int, clock: DecodeClock) -> Iterator[YuvFrame]:
    """Decode the coded bytes one packet at a time, yielding ``width`` x ``height`` 8-bit 4:2:0 frames."""
    import av

    from cmfr_codec.io.pyav import frame_planes

    context = av.CodecContext.create(baseline.decoder, "r")
    context.thread_type = "FRAME"

    def frames_of(packet) -> list:
        started = time.perf_counter()
        try:
            decoded = context.decode(packet)
        except av.FFmpegError as error:
            raise CmfrError(f"{baseline.name}: {baseline.decoder} failed to decode the coded data: {error}") from None
        clock.seconds += time.perf_counter() - started
        return decoded

    for data in [*packets, None]:
        for picture in frames_of(None if data is None else av.Packet(data)):
            if picture.format.name != PIXEL_FORMAT:
                raise CmfrError(f"{baseline.name}: the decoder returned {picture.format.name}, not {PIXEL_FORMAT}")
            frame = frame_planes(picture)
            yield YuvFrame(np.ascontiguousarray(frame.y[:height, :width]), frame.u, frame.v)
