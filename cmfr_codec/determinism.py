"""Network arithmetic that gives the same bits whatever the thread count.

The decoder must rebuild exactly the floats the encoder had, since they choose entropy tables
and become the next frame's reference.  On the CPU, convolutions split their sums differently
with another thread count (measured with torch 2.13 on x86-64): oneDNN (mkldnn) convolutions of
some shapes, MKL's GEMM under the non-oneDNN convolutions unless its conditional numerical
reproducibility is pinned, and, even then, small convolutions (inputs of a few latent pixels,
as in the hyper-latents of small frames) at 2 and at 8-16 threads.

So coding runs on one CPU thread: whatever thread count the caller set, every sum is split the
same way, so another process with another thread count rebuilds the same floats on the same kind
of machine.  oneDNN stays on (its convolutions are 4-6x faster than torch's fallback on one
thread, benchmarks/cpu_kernels.py); which JIT kernel it picks depends on the CPU's instruction set, so pictures may differ
in their last bits between kinds of machine -- the entropy parameters do not, they are exact
integers (:mod:`cmfr_codec.models.integer`).  ``MKL_CBWR=AVX2,STRICT`` pins the code branch of
MKL's GEMM, which the pointwise convolutions use; it must be set before MKL's first call, which
is why :mod:`cmfr_codec` sets it on import (unless the user set it).  On CUDA, cuDNN is kept to
deterministic algorithms without autotuning.  docs/determinism.md says what this does and does
not guarantee.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

MKL_REPRODUCIBLE_BRANCH = "AVX2,STRICT"


def request_reproducible_blas() -> None:
    """Ask MKL for thread-count-independent results (before its first call); a user's setting wins."""
    os.environ.setdefault("MKL_CBWR", MKL_REPRODUCIBLE_BRANCH)


@contextlib.contextmanager
def _temporarily(settings: object, **values: bool) -> Iterator[None]:
    previous = {name: getattr(settings, name) for name in values}
    for name, value in values.items():
        setattr(settings, name, value)
    try:
        yield
    finally:
        for name, value in previous.items():
            setattr(settings, name, value)


@contextlib.contextmanager
def reproducible_inference() -> Iterator[None]:
    """Inference (no autograd) on the code paths whose results do not depend on the thread count."""
    import torch

    from cmfr_codec.models.stripes import striped_convolutions

    threads = torch.get_num_threads()
    if threads != 1:  # nested coding calls (a codec inside a codec) find it set already
        torch.set_num_threads(1)
    try:
        with (
            torch.no_grad(),
            striped_convolutions(),
            _temporarily(torch.backends.cudnn, benchmark=False, deterministic=True),
        ):
            yield
    finally:
        if threads != 1:
            torch.set_num_threads(threads)
