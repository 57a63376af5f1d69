"""Cheaper encoder-only networks: what the encoder's ``fast`` preset changes.

Some networks run only in the encoder: they turn the input into what gets quantised and coded,
and the decoder never evaluates them (intra ``analysis``; inter ``flow_estimator``,
``motion_encoder``, ``feature_extractor``, ``contextual_encoder``).  Whatever they output, the
decoder reproduces the encoder's reconstruction exactly, because everything after the
quantiser is unchanged.  So the encoder may compute them more cheaply, at some cost in rate and
distortion but none in decodability (the same reasoning lets x264 pick a faster motion search):

- **bfloat16** where the device computes it natively (AVX512-BF16 or AMX CPUs, CUDA GPUs of
  compute capability 8.0 and up): inputs are rounded to bfloat16 on the way in and the output is
  handed back in float32.  Elsewhere bfloat16 would be emulated, slower than float32, so these
  networks stay float32 there.
- **Motion at half resolution**: the flow estimator stops one pyramid level early and its flow
  is resized to full size (``SpyNetFlow(..., finest_level=1)``), three quarters less work.

:func:`fast_analysis` builds such a codec from a loaded one; both share every weight that did
not change precision.  The decoder-side networks stay float32, so the stream and the
reconstruction are still the same bits with any ``--threads``.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from .codec import CmfrCodec
from .motion import SpyNetFlow

ANALYSIS_NETWORKS = {
    "intra": ("analysis",),
    "inter": ("flow_estimator", "motion_encoder", "feature_extractor", "contextual_encoder"),
}
"""The encoder-only networks of each half of the codec, by attribute name."""

FAST_FLOW_LEVEL = 1
"""The flow estimator's finest level under the fast preset (0 is full resolution)."""


class ReducedPrecision(nn.Module):
    """``network`` evaluated in ``dtype``: tensor inputs (also inside tuples and lists) are cast to
    ``dtype``, and the output back to float32."""

    def __init__(self, network: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.network = copy.deepcopy(network).to(dtype)
        self.dtype = dtype

    def forward(self, *inputs: Any) -> torch.Tensor:
        return self.network(*(self._cast(value) for value in inputs)).float()

    def _cast(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.to(self.dtype)
        if isinstance(value, (tuple, list)):
            return type(value)(self._cast(item) for item in value)
        return value


class CoarseFlow(nn.Module):
    """A :class:`SpyNetFlow` that stops at ``finest_level`` (its weights, not a copy)."""

    def __init__(self, estimator: SpyNetFlow, finest_level: int) -> None:
        super().__init__()
        self.estimator = estimator
        self.finest_level = finest_level

    def forward(self, current: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return self.estimator(current, reference, finest_level=self.finest_level)


def native_bfloat16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 convolutions natively (faster than float32)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.get_device_capability(device)[0] >= 8
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def fast_analysis(codec: CmfrCodec, bfloat16: bool | None = None) -> CmfrCodec:
    """A codec that decodes exactly like ``codec`` but whose encoder-only networks are cheaper
    (module docstring).  ``bfloat16``: run them in bfloat16 (default: where native on the
    codec's device).  ``codec`` itself is left as it is."""
    if bfloat16 is None:
        bfloat16 = native_bfloat16(next(codec.parameters()).device)
    fast = shallow_copy(codec)
    for part, names in ANALYSIS_NETWORKS.items():
        half = shallow_copy(getattr(codec, part))
        setattr(fast, part, half)
        for name in names:
            network = getattr(half, name)
            if isinstance(network, SpyNetFlow):
                network = CoarseFlow(network, FAST_FLOW_LEVEL)
            if bfloat16:
                network = ReducedPrecision(network, torch.bfloat16)
            setattr(half, name, network)
    return fast


def shallow_copy(module: nn.Module) -> Any:
    """``module`` with its own table of submodules (so that replacing one leaves ``module`` alone)
    but the same submodules, parameters and buffers."""
    duplicate = copy.copy(module)
    duplicate._modules = dict(module._modules)
    return duplicate
