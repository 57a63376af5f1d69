"""Per-channel factorized coding of hyper-latents from learned integer CDF tables.

::

    symbols (C, ...) --channel c--> v - offsets[c] in [0, L_c) ?  yes: table symbol
                                                                no:  escape symbol L_c
                                                                     + fallback fields (ans.py)

Decode order: channel 0's symbols in raster order, channel 1's, ..., then the fallback
fields of every escaped value in that same order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cmfr_codec.entropy.ans import (
    SYMBOL_LIMIT,
    AnsCoder,
    check_symbols,
    coder_bytes,
    escape_bits,
    finish_decoding,
    new_coder,
    open_coder,
    pop_escapes,
    push_escapes,
)
from cmfr_codec.entropy.tables import categorical_model, code_lengths, validated_cdf


class FactorizedCoder:
    """Codes ``(C, ...)`` integer arrays with one fixed integer CDF per channel.

    ``cdfs[c]`` is channel ``c``'s CDF over ``L_c + 1`` symbols: the values
    ``offsets[c] .. offsets[c] + L_c - 1`` and, last, the escape symbol.  Channels may have
    different lengths, so ``cdfs`` is a sequence of 1-D arrays; a ``(C, L + 2)`` array (equal
    lengths) is such a sequence too.  Build the tables with :func:`quantize_pmf_to_cdf`.
    """

    def __init__(self, cdfs: Sequence[np.ndarray] | np.ndarray, offsets: np.ndarray):
        offsets = np.asarray(offsets)
        if offsets.ndim != 1 or not np.issubdtype(offsets.dtype, np.integer):
            raise ValueError(f"offsets must be a 1-D integer array, got {offsets.dtype} {offsets.shape}")
        if len(cdfs) != offsets.size:
            raise ValueError(f"{len(cdfs)} CDFs for {offsets.size} channel offsets")
        self._cdfs = [validated_cdf(cdf, f"channel {channel}") for channel, cdf in enumerate(cdfs)]
        self._low = offsets.astype(np.int64)
        self._high = self._low + np.array([cdf.size - 3 for cdf in self._cdfs], dtype=np.int64)
        if self._low.size and (self._low.min() <= -SYMBOL_LIMIT or self._high.max() >= SYMBOL_LIMIT):
            raise ValueError(f"channel supports must lie within |symbol| < {SYMBOL_LIMIT}")
        self._models = [categorical_model(cdf) for cdf in self._cdfs]
        self._lengths = [code_lengths(cdf) for cdf in self._cdfs]

    @property
    def channels(self) -> int:
        return len(self._cdfs)

    def encode(self, symbols: np.ndarray) -> bytes:
        """Code integer ``symbols`` of shape ``(C, ...)`` into bytes."""
        coder = new_coder()
        self.push(coder, symbols)
        return coder_bytes(coder)

    def decode(self, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
        """Decode ``data`` made by :meth:`encode` for symbols of ``shape`` (int32)."""
        coder = open_coder(data)
        decoded = self.pop(coder, shape)
        finish_decoding(coder)
        return decoded

    def push(self, coder: AnsCoder, symbols: np.ndarray) -> None:
        """Push ``symbols`` onto a shared ANS stack; :meth:`pop` takes them back (last pushed, first popped)."""
        values = self._per_channel(symbols)
        table_symbols, escaped = self._table_symbols(values)
        push_escapes(coder, values[escaped], self._low_like(values)[escaped], self._high_like(values)[escaped])
        if table_symbols.shape[1]:
            for channel in reversed(range(self.channels)):
                coder.encode_reverse(table_symbols[channel], self._models[channel])

    def pop(self, coder: AnsCoder, shape: tuple[int, ...]) -> np.ndarray:
        """Pop symbols of ``shape`` that :meth:`push` pushed (int32)."""
        shape = tuple(int(size) for size in shape)
        if not shape or shape[0] != self.channels or min(shape) < 0:
            raise ValueError(f"shape must be ({self.channels}, ...), got {shape}")
        per_channel = int(np.prod(shape[1:], dtype=np.int64))
        table_symbols = np.empty((self.channels, per_channel), dtype=np.int64)
        if per_channel:
            for channel in range(self.channels):
                table_symbols[channel] = coder.decode(self._models[channel], per_channel)
        values = table_symbols + self._low[:, None]
        escaped = values > self._high[:, None]
        values[escaped] = pop_escapes(coder, self._low_like(values)[escaped], self._high_like(values)[escaped])
        return values.astype(np.int32).reshape(shape)

    def ideal_bits(self, symbols: np.ndarray) -> float:
        """Sum of ``-log2 p`` under the integer tables, escape fallback fields included."""
        values = self._per_channel(symbols)
        table_symbols, escaped = self._table_symbols(values)
        bits = sum(float(lengths[row].sum()) for lengths, row in zip(self._lengths, table_symbols, strict=True))
        return bits + escape_bits(values[escaped], self._low_like(values)[escaped], self._high_like(values)[escaped])

    def _per_channel(self, symbols: np.ndarray) -> np.ndarray:
        values = check_symbols(symbols)
        if values.ndim == 0 or values.shape[0] != self.channels:
            raise ValueError(f"symbols must have shape ({self.channels}, ...), got {values.shape}")
        return values.reshape(self.channels, -1)

    def _table_symbols(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each value's symbol in its channel's table, and where the escape symbol stands in."""
        low, high = self._low[:, None], self._high[:, None]
        escaped = (values < low) | (values > high)
        table_symbols = np.where(escaped, high - low + 1, values - low).astype(np.int32)
        return table_symbols, escaped

    def _low_like(self, values: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._low[:, None], values.shape)

    def _high_like(self, values: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._high[:, None], values.shape)
