"""Encoder presets (no heavy imports: the CLI reads them for ``--help``).

``slow`` is ``medium`` with each frame's latent refined by gradient steps on the training loss
(:mod:`cmfr_codec.refine`), many times slower.  ``medium`` runs every network in float32.  ``fast`` makes the encoder-only networks cheaper
(:mod:`cmfr_codec.models.analysis`): bfloat16 where the device computes it natively, and motion
estimated at half resolution.  The decoder runs the same networks whatever the preset, so a
preset changes which bits the encoder chooses, never how they decode; the bitstream does not
record it.
"""

from __future__ import annotations

PRESETS = ("slow", "medium", "fast")
"""Slowest first."""

DEFAULT_PRESET = "medium"
