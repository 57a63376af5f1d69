"""Fuzz harness for the container reader and the decoder: real bitstreams, mutated, decoded.

Seeds are real bitstreams: a few frames of the example clip encoded by the pipeline.  A case
applies one mutation to one seed and runs what ``cmfr decode`` runs once its weights are
loaded: open the file, verify it, ``decode_video``.  The outcome must be a decoded video or a
``BitstreamError``; any other exception, or a case running past its time limit, is a failure.

Most mutations keep the container consistent (sizes, CRCs, seek index and trailer are
recomputed from the mutated parts), because a mutation the CRCs catch never reaches what lies
behind them: field bounds, the entropy decoder and the networks.  The file layout written
here is docs/bitstream.md's, spelled out independently of ``cmfr_codec.bitstream``.
"""

from __future__ import annotations

import copy
import random
import signal
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from clips import example_frames, random_tiny_codec, scaled_example_frames, write_raw_yuv

from cmfr_codec.bitstream import BitstreamReader
from cmfr_codec.entropy import bands
from cmfr_codec.errors import BitstreamError
from cmfr_codec.io import open_video
from cmfr_codec.pipeline import decode_video, encode_video
from cmfr_codec.weights import LoadedModel, load_model, save_weights

SEED_SETTINGS = (
    # width, height, frames, intra period, quality index, row bands forced
    (64, 64, 4, 2, 40, False),
    (72, 40, 3, 0, 10, False),
    (96, 64, 3, 2, 63, False),
    (64, 256, 2, 0, 40, True),
)
"""The last seed's latents are cut into 2 row bands each (sub-streams ``frame_1``, ``motion_1``): the
tiny model codes too few symbols for the encoder to ask for them, so the seed forces one band per symbol
(and, as the example clip has 240 rows, it is the clip scaled rather than cropped)."""
CASE_SECONDS = 60.0
OUTCOMES = ("decoded", "BitstreamError", "failure")

HEADER_FIELDS = {
    # name: (offset, struct format)
    "minor version": (5, "<B"),
    "header length": (6, "<H"),
    "width": (40, "<I"),
    "height": (44, "<I"),
    "fps numerator": (48, "<I"),
    "fps denominator": (52, "<I"),
    "frame count": (56, "<I"),
    "intra period": (60, "<I"),
    "pixel format": (64, "<B"),
    "quality index": (65, "<B"),
    "model name length": (66, "<B"),
}
FRAME_SIZES = ((1, 1), (2, 2), (33, 17), (1920, 1080), (3840, 2160), (4096, 2304), (4097, 2304), (16384, 16384))
"""Width and height changed together: tiny, common, at the decoder's limit, just above it, the most a header allows."""
INTERESTING_U32 = (0, 1, 2, 3, 7, 16, 63, 64, 65, 127, 128, 255, 256, 4096, 16384, 16385, 65535, 65536,
                   2**31 - 1, 2**31, 2**32 - 1)


@dataclass
class Substream:
    index: int  # position of its name in the header's name table
    size_field: bytes  # its size as stored: LEB128, possibly malformed by a mutation
    payload: bytes


@dataclass
class Record:
    low_byte: int
    type_byte: int
    substreams: list[Substream]
    crc_number: int  # the frame number the CRC starts from
    count: int | None = None  # the stored sub-stream count, when a mutation lies about it

    def to_bytes(self) -> bytes:
        count = len(self.substreams) if self.count is None else self.count
        body = (
            bytes([self.low_byte, self.type_byte, count])
            + b"".join(bytes([substream.index]) + substream.size_field for substream in self.substreams)
            + b"".join(substream.payload for substream in self.substreams)
        )
        crc = zlib.crc32(body, zlib.crc32(struct.pack("<I", self.crc_number)))
        return body + struct.pack("<I", crc)


@dataclass
class Stream:
    header: bytearray  # without its CRC, which is recomputed
    records: list[Record] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        """The file, with the header CRC, the seek index and the trailer made to fit the records."""
        data = bytearray(self.header + struct.pack("<I", zlib.crc32(self.header)))
        intra = []
        for number, record in enumerate(self.records):
            if record.type_byte >> 6 == 1:
                intra.append((number, len(data)))
            data += record.to_bytes()
        index_offset = len(data)
        index = struct.pack("<I", len(intra)) + b"".join(struct.pack("<IQ", *entry) for entry in intra)
        data += index + struct.pack("<I", zlib.crc32(index))
        data += struct.pack("<QI", index_offset, zlib.crc32(struct.pack("<Q", index_offset))) + b"CMFE"
        return bytes(data)

    def set_header_field(self, name: str, value: int) -> None:
        offset, layout = HEADER_FIELDS[name]
        struct.pack_into(layout, self.header, offset, value)


def leb128(value: int) -> bytes:
    encoded = bytearray()
    while value > 0x7F:
        encoded.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*encoded, value])


def parse(data: bytes) -> Stream:
    """A seed's parts (the seed is a valid file, so nothing is checked)."""
    header_length = struct.unpack_from("<H", data, 6)[0]
    stream = Stream(bytearray(data[: header_length - 4]))
    position = header_length
    for number in range(struct.unpack_from("<I", data, 56)[0]):
        low_byte, type_byte, count = data[position : position + 3]
        position += 3
        directory = []
        for _ in range(count):
            index, start = data[position], position + 1
            size, shift, position = 0, 0, start
            while True:
                size |= (data[position] & 0x7F) << shift
                shift += 7
                position += 1
                if not data[position - 1] & 0x80:
                    break
            directory.append((index, data[start:position], size))
        substreams = []
        for index, size_field, size in directory:
            substreams.append(Substream(index, size_field, data[position : position + size]))
            position += size
        position += 4
        stream.records.append(Record(low_byte, type_byte, substreams, number))
    return stream


@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes

    @property
    def stream(self) -> Stream:
        return parse(self.data)


def make_seeds(model: LoadedModel, folder: Path) -> list[Seed]:
    """Real bitstreams: the example clip cut to small sizes, encoded by the pipeline with ``model``."""
    seeds = []
    for width, height, frame_count, intra_period, quality, banded in SEED_SETTINGS:
        name = f"seed_{width}x{height}_25"
        frames = (scaled_example_frames if banded else example_frames)(frame_count, width, height)
        source = write_raw_yuv(folder / f"{name}.yuv", frames)
        per_band = bands.SYMBOLS_PER_BAND
        bands.SYMBOLS_PER_BAND = 1 if banded else per_band
        try:
            with open_video(source) as reader:
                encode_video(reader, folder / f"{name}.bin", model, quality, intra_period)
        finally:
            bands.SYMBOLS_PER_BAND = per_band
        seeds.append(Seed(f"{width}x{height}, {frame_count} frames, intra period {intra_period}, q{quality}"
                          + (", row bands" if banded else ""), (folder / f"{name}.bin").read_bytes()))
    return seeds


# Mutations: (random generator, seed) -> the bytes of a damaged file.


def truncate(rng: random.Random, seed: Seed) -> bytes:
    return seed.data[: rng.randrange(len(seed.data))]


def flip_bits(rng: random.Random, seed: Seed) -> bytes:
    data = bytearray(seed.data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def overwrite_or_insert(rng: random.Random, seed: Seed) -> bytes:
    position = rng.randrange(len(seed.data))
    replacement = rng.randbytes(rng.randint(1, 16))
    if rng.random() < 0.5:
        return seed.data[:position] + replacement + seed.data[position + len(replacement) :]
    return seed.data[:position] + replacement + seed.data[position:]


def header_field(rng: random.Random, seed: Seed) -> bytes:
    """One header field, or a byte of the name table, set to a boundary or random value; header CRC recomputed."""
    stream = seed.stream
    name_table = HEADER_FIELDS["model name length"][0] + 1 + stream.header[HEADER_FIELDS["model name length"][0]]
    if rng.random() < 0.2:
        stream.header[rng.randrange(name_table, len(stream.header))] = rng.randrange(256)
        return stream.to_bytes()
    if rng.random() < 0.1:
        width, height = rng.choice(FRAME_SIZES)
        stream.set_header_field("width", width)
        stream.set_header_field("height", height)
        return stream.to_bytes()
    name = rng.choice(list(HEADER_FIELDS))
    offset, layout = HEADER_FIELDS[name]
    original = struct.unpack_from(layout, stream.header, offset)[0]
    largest = 2 ** (8 * struct.calcsize(layout)) - 1
    candidates = [*INTERESTING_U32, original - 1, original + 1, rng.randint(0, largest), rng.randint(0, 600)]
    stream.set_header_field(name, rng.choice([value for value in candidates if 0 <= value <= largest]))
    return stream.to_bytes()


def record_field(rng: random.Random, seed: Seed) -> bytes:
    """One field of one record (frame number, type, quality, count, name index, size); its CRC recomputed."""
    stream = seed.stream
    record = rng.choice(stream.records)
    choice = rng.choice(["frame number", "type", "quality", "count", "name index", "size"])
    if choice == "frame number":
        record.low_byte = rng.randrange(256)
    elif choice == "type":
        record.type_byte = rng.randrange(4) << 6 | record.type_byte & 0x3F
    elif choice == "quality":
        record.type_byte = record.type_byte & 0xC0 | rng.randrange(64)
    elif choice == "count":
        record.count = rng.choice([0, 1, 2, 3, 64, 255, rng.randrange(256)])
    elif record.substreams:
        substream = rng.choice(record.substreams)
        if choice == "name index":
            substream.index = rng.choice([0, 1, 2, 255, rng.randrange(256)])
        else:
            size = len(substream.payload)
            value = rng.choice([0, 1, size - 1, size + 1, size + 4, 2**32 - 1, 2**32, rng.randrange(2**32)])
            encoded = leb128(max(value, 0))
            form = rng.random()
            if form < 0.2:  # over-long: a continuation byte, then a zero
                encoded = bytes([encoded[0] | 0x80]) + encoded[1:] + b"\x00"
            elif form < 0.3:
                encoded = b"\x80" * rng.randint(5, 8) + b"\x01"
            substream.size_field = encoded
    return stream.to_bytes()


def records(rng: random.Random, seed: Seed) -> bytes:
    """Records duplicated, removed, swapped or replaced; renumbered or not, counted in the header or not."""
    stream = seed.stream
    frames = stream.records
    choice = rng.choice(["duplicate", "remove", "swap", "replace"])
    first, second = rng.randrange(len(frames)), rng.randrange(len(frames))
    if choice == "duplicate":
        frames.insert(second, copy.deepcopy(frames[first]))
    elif choice == "remove":
        del frames[first]
    elif choice == "swap":
        frames[first], frames[second] = frames[second], frames[first]
    else:
        frames[second] = copy.deepcopy(frames[first])
    if rng.random() < 0.5:
        for number, record in enumerate(frames):
            record.low_byte, record.crc_number = number & 0xFF, number
    if rng.random() < 0.5:
        stream.set_header_field("frame count", len(frames))
    return stream.to_bytes()


def payload(rng: random.Random, seed: Seed) -> bytes:
    """A sub-stream's bytes changed, with its size, the record's CRC and everything after it made consistent."""
    stream = seed.stream
    record = rng.choice(stream.records)
    other = rng.choice(stream.records)
    substream = rng.choice(record.substreams)
    data = bytearray(substream.payload)
    choice = rng.choice(["flip", "overwrite", "random", "truncate", "extend", "zero", "ones", "empty",
                         "swap with another frame", "exchange names", "drop a sub-stream", "repeat a sub-stream"])
    if choice == "flip" and data:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif choice == "overwrite" and data:
        start = rng.randrange(len(data))
        data[start : start + 4] = rng.randbytes(len(data[start : start + 4]))
    elif choice == "random":
        data = bytearray(rng.randbytes(len(data)))
    elif choice == "truncate":
        del data[max(rng.choice([rng.randrange(len(data) + 1), len(data) // 4 * 4 - 4, len(data) - 1]), 0) :]
    elif choice == "extend":
        data += rng.randbytes(rng.choice([1, 4, 8, rng.randint(1, 64)]))
    elif choice == "zero":
        data = bytearray(len(data))
    elif choice == "ones":
        data = bytearray(b"\xff" * len(data))
    elif choice == "empty":
        data = bytearray()
    elif choice == "swap with another frame" and other.substreams:
        exchanged = rng.choice(other.substreams)
        data, exchanged.payload = bytearray(exchanged.payload), bytes(data)
        exchanged.size_field = leb128(len(exchanged.payload))
    elif choice == "exchange names" and len(record.substreams) > 1:
        first, second = record.substreams[:2]
        first.index, second.index = second.index, first.index
    elif choice == "drop a sub-stream":
        record.substreams.remove(substream)
    elif choice == "repeat a sub-stream":
        record.substreams.append(copy.deepcopy(substream))
    substream.payload = bytes(data)
    substream.size_field = leb128(len(data))
    return stream.to_bytes()


def index_or_trailer(rng: random.Random, seed: Seed) -> bytes:
    """A seek index entry, the entry count or the index offset changed, with its CRC recomputed."""
    data = bytearray(seed.data)
    index_offset = struct.unpack_from("<Q", data, len(data) - 16)[0]
    count = struct.unpack_from("<I", data, index_offset)[0]
    choice = rng.choice(["entry frame", "entry offset", "count", "index offset"])
    if choice == "index offset":
        value = rng.choice([0, index_offset - 1, index_offset + 1, index_offset - 7, rng.randrange(len(data)), 2**64 - 1])
        struct.pack_into("<QI", data, len(data) - 16, value, zlib.crc32(struct.pack("<Q", value)))
        return bytes(data)
    if choice == "count" or count == 0:
        struct.pack_into("<I", data, index_offset, rng.choice([0, count - 1, count + 1, 2**32 - 1]) % 2**32)
    else:
        entry = index_offset + 4 + 12 * rng.randrange(count)
        frame, offset = struct.unpack_from("<IQ", data, entry)
        if choice == "entry frame":
            frame = rng.choice([0, frame - 1, frame + 1, rng.randrange(2**32)]) % 2**32
        else:
            offset = rng.choice([0, offset - 1, offset + 1, rng.randrange(len(data)), 2**64 - 1]) % 2**64
        struct.pack_into("<IQ", data, entry, frame, offset)
    crc_at = len(data) - 16 - 4
    struct.pack_into("<I", data, crc_at, zlib.crc32(data[index_offset:crc_at]))
    return bytes(data)


MUTATIONS: dict[str, Callable[[random.Random, Seed], bytes]] = {
    "truncation": truncate,
    "bit flips": flip_bits,
    "overwritten / inserted bytes": overwrite_or_insert,
    "header field (CRC fixed)": header_field,
    "record field (CRC fixed)": record_field,
    "records moved (CRC fixed)": records,
    "payload (CRCs fixed)": payload,
    "index / trailer (CRC fixed)": index_or_trailer,
}


@dataclass(frozen=True)
class Case:
    number: int
    kind: str
    seed: str
    data: bytes


def cases(seeds: list[Seed], count: int, base_seed: int, kinds: list[str] | None = None) -> Iterator[Case]:
    """``count`` cases, the kinds taken in turn; case ``n`` depends only on ``base_seed`` and ``n``.

    A mutation that happens to leave its seed unchanged is drawn again, so that every case is damaged.
    """
    kinds = kinds or list(MUTATIONS)
    for number in range(count):
        rng = random.Random(f"{base_seed}:{number}")
        kind = kinds[number % len(kinds)]
        seed = rng.choice(seeds)
        data = seed.data
        while data == seed.data:
            data = MUTATIONS[kind](rng, seed)
        yield Case(number, kind, seed.name, data)


def tiny_model(folder: Path) -> LoadedModel:
    """A randomly initialised tiny model (fixed seed), saved as a weights pair and loaded as cmfr loads one."""
    codec = random_tiny_codec()
    return load_model(save_weights(codec, folder / "tiny"))


class CaseTimeout(BaseException):
    """Raised by the alarm in a case that runs too long (a BaseException, so nothing swallows it)."""


def _alarm(signum: int, frame: object) -> None:
    raise CaseTimeout()


@dataclass(frozen=True)
class Outcome:
    kind: str  # one of OUTCOMES
    detail: str
    seconds: float


def decode_file(path: Path, model: LoadedModel, output: Path) -> None:
    """What ``cmfr decode`` runs once it has loaded the weights."""
    with BitstreamReader(path) as reader:
        reader.verify()
        decode_video(reader, output, model)


def run_case(data: bytes, model: LoadedModel, folder: Path, limit: float = CASE_SECONDS) -> Outcome:
    """Decode ``data`` and classify what happened; ``limit`` seconds at most."""
    path, output = folder / "case.bin", folder / "case.yuv"
    path.write_bytes(data)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    start = time.perf_counter()
    try:
        decode_file(path, model, output)
        outcome, detail = "decoded", ""
    except BitstreamError as error:
        outcome, detail = "BitstreamError", str(error)
    except CaseTimeout:
        outcome, detail = "failure", f"still running after {limit:.0f} s"
    except BaseException as error:  # noqa: BLE001 - anything else is what the harness looks for
        if isinstance(error, KeyboardInterrupt):
            raise
        outcome, detail = "failure", f"{type(error).__name__}: {error}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(outcome, detail, time.perf_counter() - start)
