"""The whole CMFR model: an I-frame codec and a P-frame codec built from one :class:`ModelConfig`.

::

    frame 0 (I) --IntraCodec--> x^_0 --DPB--> frame 1 (P) --InterCodec--> x^_1 --DPB--> frame 2 (P) ...

Both codecs work on the padded half-resolution grid (:data:`PADDING_MULTIPLE`); the pipelines in
:mod:`cmfr_codec.pipeline` pad, crop and decide which frames are intra.  The two halves are
stored in separate weights files (``NAME.intra.cmfrw``, ``NAME.inter.cmfrw``), each carrying
the full config.
"""

from __future__ import annotations

from torch import nn

from cmfr_codec.models.config import ModelConfig
from cmfr_codec.models.inter import InterCodec
from cmfr_codec.models.intra import PADDING_MULTIPLE, IntraCodec

__all__ = ["PADDING_MULTIPLE", "CmfrCodec"]


class CmfrCodec(nn.Module):
    """``intra`` codes I-frames, ``inter`` codes P-frames from a decoded picture buffer."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.intra = IntraCodec(config.intra)
        self.inter = InterCodec(config.inter)

    def update_tables(self) -> None:
        """Rebuild every hyper-latent's integer CDF tables: after training, before saving weights."""
        self.intra.update_tables()
        self.inter.update_tables()
