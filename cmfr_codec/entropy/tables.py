"""Integer CDF tables: the specification of every entropy model in this package.

A table is a 1-D integer CDF over ``n`` symbols: ``n + 1`` entries, ``cdf[0] == 0``,
``cdf[-1] == CDF_TOTAL`` and every step ``cdf[i + 1] - cdf[i] >= 1``, so that every symbol,
the escape symbol included, has probability at least ``1 / CDF_TOTAL``.  Encoder and decoder
agree on a model exactly when they agree on these integers; floats only ever appear as the
exact dyadic numbers ``pmf_int / CDF_TOTAL`` handed to constriction, whose quantisation of
them is itself exact (see docs/entropy.md).
"""

from __future__ import annotations

import constriction
import numpy as np

CDF_PRECISION = 16
CDF_TOTAL = 1 << CDF_PRECISION


def quantize_pmf_to_cdf(pmf: np.ndarray) -> np.ndarray:
    """Turn float pmfs ``(..., n)`` into integer CDFs ``(..., n + 1)`` (int32).

    Each symbol first gets one unit (so none is impossible), the remaining
    ``CDF_TOTAL - n`` units are shared in proportion to the pmf, and the units lost to
    flooring go to the largest fractional parts (ties to the lower symbol).  The pmf need not
    be normalised.  No escape symbol is added: a caller that wants one (the coders here all
    do) puts the tail mass in the last pmf entry.  Meant for model export: the integers it
    returns, not the floats, are what a weights file stores.
    """
    probabilities = np.asarray(pmf, dtype=np.float64)
    if probabilities.ndim == 0 or probabilities.shape[-1] == 0:
        raise ValueError("pmf must have at least one symbol along its last axis")
    symbol_count = probabilities.shape[-1]
    if symbol_count > CDF_TOTAL:
        raise ValueError(f"{symbol_count} symbols do not fit in a {CDF_PRECISION}-bit CDF")
    if not np.all(np.isfinite(probabilities)) or np.any(probabilities < 0):
        raise ValueError("pmf entries must be finite and non-negative")
    mass = probabilities.sum(axis=-1, keepdims=True)
    if np.any(mass <= 0):
        raise ValueError("every pmf must have positive total mass")

    shares = probabilities / mass * (CDF_TOTAL - symbol_count)
    whole = np.floor(shares)
    frequencies = whole.astype(np.int64) + 1
    leftover = CDF_TOTAL - frequencies.sum(axis=-1, keepdims=True)
    by_fraction = np.argsort(-(shares - whole), axis=-1, kind="stable")
    rank = np.empty_like(by_fraction)
    np.put_along_axis(rank, by_fraction, np.arange(symbol_count), axis=-1)
    frequencies += rank < leftover

    cdf = np.zeros(probabilities.shape[:-1] + (symbol_count + 1,), dtype=np.int64)
    np.cumsum(frequencies, axis=-1, out=cdf[..., 1:])
    return cdf.astype(np.int32)


def validated_cdf(cdf: np.ndarray, what: str) -> np.ndarray:
    """Return ``cdf`` as int64 after checking it is a table constriction can never choke on.

    A zero-probability symbol would make constriction panic (an uncatchable-by-``Exception``
    ``PanicException``), so the check is strict and happens before any model is built.
    """
    table = np.asarray(cdf)
    if table.ndim != 1 or not np.issubdtype(table.dtype, np.integer):
        raise ValueError(f"{what}: a CDF must be a 1-D integer array, got {table.dtype} {table.shape}")
    if table.size < 3:
        raise ValueError(f"{what}: a CDF needs at least one symbol plus the escape symbol")
    table = table.astype(np.int64)
    if table[0] != 0 or table[-1] != CDF_TOTAL:
        raise ValueError(f"{what}: a CDF must run from 0 to {CDF_TOTAL}")
    if np.any(np.diff(table) < 1):
        raise ValueError(f"{what}: every symbol needs probability >= 1/{CDF_TOTAL}")
    return table


def categorical_model(cdf: np.ndarray) -> constriction.stream.model.Categorical:
    """Build constriction's fixed model for a validated integer CDF.

    ``pmf_int / CDF_TOTAL`` is exact in float64, so the model is a function of the integers;
    ``perfect=False`` selects constriction's closed-form quantisation (the optimising one
    would be slow and is not needed for exact dyadic inputs).
    """
    probabilities = np.diff(cdf).astype(np.float64) / CDF_TOTAL
    return constriction.stream.model.Categorical(probabilities, perfect=False)


def code_lengths(cdf: np.ndarray) -> np.ndarray:
    """Ideal code length in bits, ``-log2 p``, of each symbol of an integer CDF."""
    return CDF_PRECISION - np.log2(np.diff(cdf).astype(np.float64))
