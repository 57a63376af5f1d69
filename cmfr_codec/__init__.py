"""cmfr-codec: a learned P-frame video codec with a real, versioned bitstream.

The package is split the way the data flows: ``cmfr_codec.io`` reads and writes video,
``cmfr_codec.bitstream`` owns the container file, ``cmfr_codec.entropy`` turns integer symbols
into bytes with constriction's ANS coder, ``cmfr_codec.metrics`` scores decoded video, and
``cmfr_codec.cli`` holds the click commands.  Networks live in ``cmfr_codec.models``.
"""

from cmfr_codec.determinism import request_reproducible_blas

__version__ = "0.1.0"

request_reproducible_blas()
