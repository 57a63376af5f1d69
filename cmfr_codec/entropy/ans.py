"""The ANS coder as bytes, and the escape fallback both coders share.

Byte format: constriction's compressed ``uint32`` words, little-endian, nothing else.  The
stream's length is given by the container, so no length or terminator is stored.

Escape fallback: a value outside a table's support ``[low, high]`` is coded as its escape
symbol in the table, then (after every table symbol, in decode order) as three uniform
fields per escaped value: the bit length ``b`` of ``beyond + 1`` where ``beyond`` is the
distance past the support edge (``b - 1`` with ``Uniform(21)``), the side (``Uniform(2)``),
and the ``b - 1`` bits below the leading one (``Uniform(2**(b - 1))``, omitted when
``b == 1``).  This is Elias-gamma with a uniform length prefix: any ``|value| < SYMBOL_LIMIT``
fits, and decoding hostile data can yield only bounded values, which are range-checked.
"""

from __future__ import annotations

import math

import constriction
import numpy as np

from cmfr_codec.errors import BitstreamError

AnsCoder = constriction.stream.stack.AnsCoder
"""The coder type; several latents may share one (see ``ConditionalCoder.push``)."""

SYMBOL_LIMIT = 1 << 20
"""Coded symbols must satisfy ``|symbol| < SYMBOL_LIMIT``."""

_BIT_LENGTH_COUNT = 21
"""``beyond + 1`` is below ``2 * SYMBOL_LIMIT`` for every table whose support lies within
``(-SYMBOL_LIMIT, SYMBOL_LIMIT)``, so its bit length is 1..21."""

_BIT_LENGTH_MODEL = constriction.stream.model.Uniform(_BIT_LENGTH_COUNT)
_SIDE_MODEL = constriction.stream.model.Uniform(2)
_LOW_BITS_FAMILY = constriction.stream.model.Uniform()


def new_coder() -> AnsCoder:
    """An empty ANS coder to encode into."""
    return constriction.stream.stack.AnsCoder()


def coder_bytes(coder: constriction.stream.stack.AnsCoder) -> bytes:
    """The coder's words as little-endian bytes."""
    return coder.get_compressed().astype("<u4", copy=False).tobytes()


def open_coder(data: bytes) -> constriction.stream.stack.AnsCoder:
    """A coder positioned to decode ``data``; malformed data raises :class:`BitstreamError`."""
    if len(data) % 4:
        raise BitstreamError(f"entropy-coded data is {len(data)} bytes, not a whole number of 32-bit words")
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    try:
        return constriction.stream.stack.AnsCoder(words)
    except ValueError as error:
        raise BitstreamError(f"entropy-coded data rejected: {error}") from None


def finish_decoding(coder: constriction.stream.stack.AnsCoder) -> None:
    """Insist that decoding consumed the data exactly, as it does for data we encoded."""
    if not coder.is_empty():
        raise BitstreamError(f"entropy-coded data has {coder.num_words()} word(s) left after decoding")


def check_symbols(symbols: np.ndarray) -> np.ndarray:
    """Return the integer symbols as int64, rejecting floats and out-of-range values."""
    array = np.asarray(symbols)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"symbols must be integers, got {array.dtype}")
    array = array.astype(np.int64, copy=False)
    if array.size and int(np.abs(array).max()) >= SYMBOL_LIMIT:
        raise ValueError(f"symbols must satisfy |symbol| < {SYMBOL_LIMIT}")
    return array


def push_escapes(coder: constriction.stream.stack.AnsCoder, values: np.ndarray, low: np.ndarray,
                 high: np.ndarray) -> None:
    """Encode escaped ``values`` (each outside its ``[low, high]``) so they decode in order.

    The stack decodes last-pushed first, so the fields are pushed in reverse of their
    decode order: low bits, sides, bit lengths.
    """
    if values.size == 0:
        return
    above = values > high
    biased = np.where(above, values - high, low - values)
    bit_length = _bit_length(biased)
    wide = bit_length > 1
    leading = np.left_shift(1, bit_length[wide] - 1)
    coder.encode_reverse((biased[wide] - leading).astype(np.int32), _LOW_BITS_FAMILY, leading.astype(np.int32))
    coder.encode_reverse(above.astype(np.int32), _SIDE_MODEL)
    coder.encode_reverse((bit_length - 1).astype(np.int32), _BIT_LENGTH_MODEL)


def pop_escapes(coder: constriction.stream.stack.AnsCoder, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Decode the escaped values whose supports are ``[low, high]`` (int64)."""
    if low.size == 0:
        return np.zeros(0, dtype=np.int64)
    bit_length = coder.decode(_BIT_LENGTH_MODEL, low.size).astype(np.int64) + 1
    above = coder.decode(_SIDE_MODEL, low.size).astype(bool)
    biased = np.left_shift(1, bit_length - 1)
    wide = bit_length > 1
    if np.any(wide):
        biased[wide] += coder.decode(_LOW_BITS_FAMILY, biased[wide].astype(np.int32))
    values = np.where(above, high + biased, low - biased)
    if int(np.abs(values).max()) >= SYMBOL_LIMIT:
        raise BitstreamError(f"an escaped symbol decodes outside |symbol| < {SYMBOL_LIMIT}")
    return values


def escape_bits(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Ideal bits of the fallback fields of escaped ``values`` (escape symbols not included)."""
    if values.size == 0:
        return 0.0
    biased = np.where(values > high, values - high, low - values)
    return float(values.size * (1 + math.log2(_BIT_LENGTH_COUNT)) + (_bit_length(biased) - 1).sum())


def _bit_length(positive: np.ndarray) -> np.ndarray:
    """Bit length of positive integers below 2**53 (``frexp`` is exact for them)."""
    return np.frexp(positive.astype(np.float64))[1].astype(np.int64)

