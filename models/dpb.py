"""The decoded picture buffer: everything a P-frame may reference, passed explicitly frame to frame.

Encoder and decoder hold identical buffers (the encoder builds its buffer from what the decoder
will see, never from the source), which is what keeps them in step.  An I-frame starts a new
buffer holding only its decoded frame; each P-frame returns the buffer for the next one.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class DecodedPictureBuffer:
    """References for the next P-frame, all on the padded half-resolution grid of the sequence.

    - ``frame``: the decoded frame x^_{t-1}, ``(1, 6, h, w)`` in [0, 1].
    - ``feature``: the reconstructed feature F^_{t-1} (with ``feature_residual``, the decoded
      masked residual plus the masked prediction); ``None`` right after an I-frame, when the
      inter model derives it from ``frame``.
    - ``motion_feature``: the motion decoder's feature of t-1, conditioning the next motion coding.
    - ``latent``: y^_{t-1} in coded units (symbols plus means, before the decoder's quantisation
      step), the temporal prior of the next frame's latent: the same on every device, which a
      prior that selects coding tables needs (docs/determinism.md).
    - ``motion_latent``: the motion latent of t-1 in coded units, the next motion latent's prior.
    """

    frame: Tensor
    feature: Tensor | None = None
    motion_feature: Tensor | None = None
    latent: Tensor | None = None
    motion_latent: Tensor | None = None
