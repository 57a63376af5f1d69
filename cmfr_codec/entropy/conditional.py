"""Table-indexed conditional Gaussian / Laplace coding of latents, grouped by table index.

::

    network: mean, scale --> symbols = round(y - mean)      (caller)
                         --> indices = ScaleTable.index(scale)
    this layer: indices < skip_below_index  -> not coded, decode as 0
                other positions, grouped:   table 0's symbols (raster order),
                                            table 1's symbols, ..., table N-1's,
                                            then the escape fallback fields (ans.py)

Each table entry ``i`` is an integer CDF over ``[-K_i, K_i]`` plus an escape symbol; one
fixed constriction ``Categorical`` per entry codes a whole group in one call, which is what
makes this layer fast.  The decoder knows the indices, hence the groups and their sizes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

import numpy as np

from cmfr_codec.entropy.ans import (
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
from cmfr_codec.entropy.scale_table import ScaleTable
from cmfr_codec.entropy.tables import CDF_PRECISION, categorical_model, code_lengths, quantize_pmf_to_cdf
from cmfr_codec.errors import CmfrError

TAIL_MASS = 2.0 ** -CDF_PRECISION
"""Mass left outside a table's support: K_i is the smallest K with P(|X| > K + 1/2) <= one
16-bit quantum.  A wider support would spend at least a quantum on each extra symbol, more
than the tail it would hold; the escape symbol gets this mass (at least one quantum) instead."""


def _gaussian_upper_tail(x: float, scale: float) -> float:
    """P(X > x) for a zero-mean Gaussian with standard deviation ``scale``."""
    return 0.5 * math.erfc(x / (scale * math.sqrt(2.0)))


def _laplace_upper_tail(x: float, scale: float) -> float:
    """P(X > x), x >= 0, for a zero-mean Laplace of diversity ``scale`` (torch's ``scale``)."""
    return 0.5 * math.exp(-x / scale)


_UPPER_TAILS: dict[str, Callable[[float, float], float]] = {
    "gaussian": _gaussian_upper_tail,
    "laplace": _laplace_upper_tail,
}

_REFERENCE_DIGESTS = {
    ("gaussian", 0.11, 64.0, 64): "877cfc01a0958f422a0c7a9c8c5c566821ba035e3a3293953c48ffeb3c36ffc7",
    ("laplace", 0.11, 64.0, 64): "7db3f4818658b8da5dc8531e49c9713bd8b166f5ccb219150cde2b0e9f0017a9",
}
"""SHA-256 of the default tables (see :func:`table_digest`), computed on the reference
machine.  A platform whose C library builds different integers refuses to code at all,
rather than writing bitstreams other machines decode wrongly."""


def symmetric_table(upper_tail: Callable[[float, float], float], scale: float) -> tuple[int, np.ndarray]:
    """Support half-width K and integer CDF over ``[-K, K]`` plus escape, for one scale.

    Uses only scalar C-library math (``erfc``/``exp``) so the floats, and hence the
    integers, are the same wherever that library is correctly rounded; the digest checks it.
    """
    half_width = 0
    while 2.0 * upper_tail(half_width + 0.5, scale) > TAIL_MASS:
        half_width += 1
    positive = [upper_tail(k - 0.5, scale) - upper_tail(k + 0.5, scale) for k in range(1, half_width + 1)]
    pmf = positive[::-1] + [1.0 - 2.0 * upper_tail(0.5, scale)] + positive
    pmf.append(2.0 * upper_tail(half_width + 0.5, scale))
    return half_width, quantize_pmf_to_cdf(np.array(pmf))


def table_digest(distribution: str, boundaries: np.ndarray, half_widths: np.ndarray,
                 cdfs: list[np.ndarray]) -> str:
    """SHA-256 over everything that decides how a symbol is coded: index boundaries and tables."""
    digest = hashlib.sha256(distribution.encode())
    digest.update(boundaries.astype("<f4").tobytes())
    digest.update(half_widths.astype("<i4").tobytes())
    for cdf in cdfs:
        digest.update(cdf.astype("<i4").tobytes())
    return digest.hexdigest()


class ConditionalCoder:
    """Codes integer latents given per-position scale-table indices.

    ``distribution`` is ``"gaussian"`` (scale = standard deviation) or ``"laplace"``
    (scale = diversity b, density ``exp(-|x|/b) / 2b``, as ``torch.distributions.Laplace``).
    Symbols must be integers with ``|symbol| < SYMBOL_LIMIT`` (2**20); those outside a
    table's support are escaped, never clipped.
    """

    def __init__(self, distribution: str = "gaussian", scale_table: ScaleTable | None = None):
        if distribution not in _UPPER_TAILS:
            raise ValueError(f"distribution must be one of {sorted(_UPPER_TAILS)}, got {distribution!r}")
        self.distribution = distribution
        self.scale_table = scale_table if scale_table is not None else ScaleTable()
        built = [symmetric_table(_UPPER_TAILS[distribution], float(scale)) for scale in self.scale_table.scales]
        self.half_widths = np.array([half_width for half_width, _ in built], dtype=np.int64)
        self.cdfs = [cdf for _, cdf in built]
        self.digest = table_digest(distribution, self.scale_table.boundaries, self.half_widths, self.cdfs)
        self._check_reference_digest()
        self._models = [categorical_model(cdf) for cdf in self.cdfs]
        lengths = [code_lengths(cdf) for cdf in self.cdfs]
        self._lengths = np.concatenate(lengths)
        self._length_starts = np.cumsum([0] + [table.size for table in lengths[:-1]])

    def skip_mask(self, indices: np.ndarray, skip_below_index: int) -> np.ndarray:
        """True where a position is not coded (and decodes as 0): ``indices < skip_below_index``.

        The encoder's caller must reconstruct those positions as the decoder will, i.e. with
        symbol 0 (``y_hat = mean``).
        """
        self._check_skip(skip_below_index)
        return self._check_indices(indices) < skip_below_index

    def encode(self, symbols: np.ndarray, indices: np.ndarray, skip_below_index: int = 0) -> bytes:
        """Code ``symbols`` (integers, shape of ``indices``) into bytes; skipped ones are ignored."""
        coder = new_coder()
        self.push(coder, symbols, indices, skip_below_index)
        return coder_bytes(coder)

    def decode(self, data: bytes, indices: np.ndarray, skip_below_index: int = 0) -> np.ndarray:
        """Decode ``data`` made by :meth:`encode` with the same indices and threshold (int32)."""
        coder = open_coder(data)
        decoded = self.pop(coder, indices, skip_below_index)
        finish_decoding(coder)
        return decoded

    def push(self, coder: AnsCoder, symbols: np.ndarray, indices: np.ndarray, skip_below_index: int = 0) -> None:
        """Push ``symbols`` onto a shared ANS ``coder`` (see :func:`cmfr_codec.entropy.ans.new_coder`).

        ANS is a stack: several latents share one stream when the encoder pushes them in the
        reverse of the order the decoder :meth:`pop` s them, saving a stream's overhead each.
        """
        values, order, counts = self._grouped(symbols, indices, skip_below_index)
        half_width = np.repeat(self.half_widths, counts)
        table_symbols, escaped = self._table_symbols(values, half_width)
        push_escapes(coder, values[escaped], -half_width[escaped], half_width[escaped])
        ends = np.cumsum(counts)
        for table_index in np.flatnonzero(counts)[::-1]:
            group = table_symbols[ends[table_index] - counts[table_index]:ends[table_index]]
            coder.encode_reverse(group, self._models[table_index])

    def pop(self, coder: AnsCoder, indices: np.ndarray, skip_below_index: int = 0) -> np.ndarray:
        """Pop what :meth:`push` pushed with the same indices and threshold (int32, shape of ``indices``)."""
        order, counts = self._groups(indices, skip_below_index)
        table_symbols = np.empty(order.size, dtype=np.int64)
        ends = np.cumsum(counts)
        for table_index in np.flatnonzero(counts):
            start = ends[table_index] - counts[table_index]
            table_symbols[start:ends[table_index]] = coder.decode(self._models[table_index], int(counts[table_index]))
        half_width = np.repeat(self.half_widths, counts)
        values = table_symbols - half_width
        escaped = values > half_width
        values[escaped] = pop_escapes(coder, -half_width[escaped], half_width[escaped])
        decoded = np.zeros(np.shape(indices), dtype=np.int32)
        decoded.reshape(-1)[order] = values
        return decoded

    def ideal_bits(self, symbols: np.ndarray, indices: np.ndarray, skip_below_index: int = 0) -> float:
        """Sum of ``-log2 p`` under the integer tables over the coded positions, escapes included."""
        values, _, counts = self._grouped(symbols, indices, skip_below_index)
        half_width = np.repeat(self.half_widths, counts)
        table_symbols, escaped = self._table_symbols(values, half_width)
        bits = float(self._lengths[np.repeat(self._length_starts, counts) + table_symbols].sum())
        return bits + escape_bits(values[escaped], -half_width[escaped], half_width[escaped])

    def _grouped(self, symbols: np.ndarray, indices: np.ndarray,
                 skip_below_index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The coded symbols in coding order, with that order and the group sizes."""
        all_values = check_symbols(symbols)
        if all_values.shape != np.shape(indices):
            raise ValueError(f"symbols {all_values.shape} and indices {np.shape(indices)} differ in shape")
        order, counts = self._groups(indices, skip_below_index)
        return all_values.reshape(-1)[order], order, counts

    def _groups(self, indices: np.ndarray, skip_below_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Flat positions of the coded symbols in coding order, and how many each table codes.

        A stable sort by index gives ascending groups with raster order inside each; the
        skipped positions (lowest indices) form its prefix.
        """
        self._check_skip(skip_below_index)
        flat = self._check_indices(indices).reshape(-1)
        order = np.argsort(flat.astype(np.int16), kind="stable")
        counts = np.bincount(flat, minlength=self.scale_table.count)
        skipped = int(counts[:skip_below_index].sum())
        counts[:skip_below_index] = 0
        return order[skipped:], counts

    @staticmethod
    def _table_symbols(values: np.ndarray, half_width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each value's symbol in its table (``value + K``; escape is ``2K + 1``) and the escapes."""
        escaped = np.abs(values) > half_width
        return np.where(escaped, 2 * half_width + 1, values + half_width).astype(np.int32), escaped

    def _check_indices(self, indices: np.ndarray) -> np.ndarray:
        array = np.asarray(indices)
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"indices must be integers, got {array.dtype}")
        if array.size and (array.min() < 0 or array.max() >= self.scale_table.count):
            raise ValueError(f"indices must lie in 0..{self.scale_table.count - 1}")
        return array.astype(np.int64, copy=False)

    def _check_skip(self, skip_below_index: int) -> None:
        if not 0 <= skip_below_index <= self.scale_table.count:
            raise ValueError(f"skip_below_index must be 0..{self.scale_table.count}, got {skip_below_index}")

    def _check_reference_digest(self) -> None:
        table = self.scale_table
        expected = _REFERENCE_DIGESTS.get((self.distribution, table.minimum, table.maximum, table.count))
        if expected is not None and expected != self.digest:
            raise CmfrError(
                f"this platform builds different {self.distribution} entropy tables than the reference "
                f"(digest {self.digest[:16]}..., expected {expected[:16]}...): its bitstreams would not decode "
                "elsewhere, so it refuses to code"
            )
