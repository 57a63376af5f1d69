"""Encoder presets (no heavy imports: the CLI reads them for ``--help``).

``medium`` runs every network in float32.  ``fast`` makes the encoder-only networks cheaper
(:mod:`cmfr_codec.models.analysis`): bfloat16 where the device computes it natively, and motion
estimated at half resolution.  The decoder runs the same networks whatever the preset, so a
preset changes which bits the encoder chooses, never how they decode; the bitstream does not
record it.
"""

from __future__ import annotations

PRESETS = ("medium", "fast")
"""Slowest first."""

DEFAULT_PRESET = "medium"
