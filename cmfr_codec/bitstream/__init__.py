"""The cmfr bitstream container: one file per sequence, specified in docs/bitstream.md.

Payloads are opaque named byte strings; nothing here knows what a latent or a tensor is.
"""

from cmfr_codec.bitstream.layout import FORMAT_VERSION
from cmfr_codec.bitstream.reader import BitstreamReader
from cmfr_codec.bitstream.records import FrameRecord, FrameType, RecordInfo, SequenceHeader
from cmfr_codec.bitstream.writer import BitstreamWriter

__all__ = [
    "FORMAT_VERSION",
    "BitstreamReader",
    "BitstreamWriter",
    "FrameRecord",
    "FrameType",
    "RecordInfo",
    "SequenceHeader",
]
