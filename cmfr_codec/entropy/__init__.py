"""Entropy coding: integer symbols to bytes and back, on constriction's ANS coder.

Two coders, both driven by integer CDF tables of ``CDF_PRECISION`` bits (the tables are the
specification; only integers reach the coder):

- :class:`FactorizedCoder` for hyper-latents: one learned table per channel, built at model
  export time with :func:`quantize_pmf_to_cdf`;
- :class:`ConditionalCoder` for latents: the network's scale picks a precomputed Gaussian or
  Laplace table through :class:`ScaleTable`, and the caller codes ``round(y - mean)``.

This layer takes numpy arrays, never tensors.  docs/entropy.md specifies the tables, the
coding order and the byte format.
"""

from cmfr_codec.entropy.ans import SYMBOL_LIMIT, AnsCoder, coder_bytes, finish_decoding, new_coder, open_coder
from cmfr_codec.entropy.conditional import ConditionalCoder
from cmfr_codec.entropy.factorized import FactorizedCoder
from cmfr_codec.entropy.scale_table import ScaleTable
from cmfr_codec.entropy.tables import CDF_PRECISION, quantize_pmf_to_cdf

__all__ = [
    "CDF_PRECISION",
    "AnsCoder",
    "coder_bytes",
    "finish_decoding",
    "new_coder",
    "open_coder",
    "SYMBOL_LIMIT",
    "ConditionalCoder",
    "FactorizedCoder",
    "ScaleTable",
    "quantize_pmf_to_cdf",
]
