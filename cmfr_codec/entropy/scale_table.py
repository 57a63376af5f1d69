"""The fixed log-spaced scale table and the map from a network's scale to a table index.

The map must give the decoder the encoder's indices exactly, so it is nothing but float32
comparisons against fixed float32 boundaries: no arithmetic on the scale itself.  Boundaries
are the geometric midpoints of neighbouring table scales, so a scale goes to the table entry
nearest in log: the relative mismatch is at most half a table step, about 5% for the
default table.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_MINIMUM = 0.11
DEFAULT_MAXIMUM = 64.0
DEFAULT_COUNT = 64
_MAXIMUM_COUNT = 256


class ScaleTable:
    """``count`` scales spaced evenly in log from ``minimum`` to ``maximum``.

    The default, 0.11 .. 64 in 64 steps (10.6% apart), is the range common learned codecs
    use.  At 0.11 a quantised zero-mean Gaussian is zero except with probability about 5e-6,
    below one 16-bit quantum, so smaller scales would build the same table; larger scales
    than 64 are rare in latents and clamp to the top entry, their tails going through the
    escape.  Networks should lower-bound their scales at ``minimum`` in training too, so
    the rate they learn is the rate coded.
    """

    def __init__(self, minimum: float = DEFAULT_MINIMUM, maximum: float = DEFAULT_MAXIMUM,
                 count: int = DEFAULT_COUNT):
        if not (math.isfinite(minimum) and math.isfinite(maximum) and 0 < minimum < maximum):
            raise ValueError(f"need 0 < minimum < maximum, got {minimum} and {maximum}")
        if not 2 <= count <= _MAXIMUM_COUNT:
            raise ValueError(f"count must be 2..{_MAXIMUM_COUNT}, got {count}")
        self.minimum = float(minimum)
        self.maximum = float(maximum)
        self.count = int(count)
        self.log_step = math.log(self.maximum / self.minimum) / (self.count - 1)
        """Natural log of the ratio between neighbouring scales."""
        # math (the C library), not numpy: numpy's vectorised exp may differ by an ulp between
        # CPU dispatch paths, and these values feed the table digest.
        self.scales = np.array([self.minimum * math.exp(i * self.log_step) for i in range(self.count)])
        self.boundaries = np.array(
            [math.sqrt(low * high) for low, high in zip(self.scales[:-1], self.scales[1:], strict=True)],
            dtype=np.float32,
        )

    def index(self, scale: np.ndarray) -> np.ndarray:
        """Table index (int32, same shape) of each scale: the entry nearest in log.

        Scales are taken as float32 (wider floats are rounded to float32 first).  Scales
        below the table, zero, negative and ``-inf`` map to 0; above it and ``+inf`` to the
        last index.  NaN raises ValueError: it means the network is broken, and no index
        choice would make the decoder agree on a meaning for it.
        """
        values = np.asarray(scale, dtype=np.float32)
        if np.isnan(values).any():
            raise ValueError("scale is NaN")
        return np.searchsorted(self.boundaries, values, side="right").astype(np.int32)

    def __repr__(self) -> str:
        return f"ScaleTable(minimum={self.minimum}, maximum={self.maximum}, count={self.count})"
