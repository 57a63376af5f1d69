"""Networks whose coding-time outputs are exact integers on any hardware.

Every value that selects an entropy-coding table (scale-table indices, skip decisions) or
that later table choices depend on (the means that ``y_hat`` is built from) comes out of an
:class:`IntegerNetwork`.  Its inputs are decoded latents (exact), its weights are integers,
and it computes in fixed point::

    activation a = A / 2**ACTIVATION_BITS      A integer, |A| <= ACTIVATION_LIMIT
    weight     w = W / 2**WEIGHT_BITS          W integer, |W| <= WEIGHT_LIMIT
    bias       b = B / 2**(ACTIVATION_BITS + WEIGHT_BITS)

    conv:   S = sum W * A + B                   (exact integer: |S| < 2**53, checked per layer)
            A' = clamp(floor((S + 2**(WEIGHT_BITS-1)) / 2**WEIGHT_BITS))   rounding by a shift
    leaky:  A' = A if A >= 0 else floor(A / 8)  (slope 1/8: a shift)
    pixel shuffle, concatenation, addition: exact on integers

The integers are held in float64 tensors.  float64 represents every integer below 2**53
exactly, and a sum of exact integers that stays below 2**53 is exact in *any* order, so a
GEMM on a CPU with or without AVX-512, on a GPU, with one thread or sixteen, returns the
same integers: nothing here depends on how a library splits its sums.  The layers avoid
library convolutions on purpose (cuDNN may pick FFT or Winograd algorithms, which are not
exact): a 1x1 convolution is a matrix product, a k x k one is k*k matrix products over
shifted inputs, a depthwise one k*k element-wise products.

Training runs the same layers with the quantisation in the loop: weights and activations are
rounded to their grids with straight-through gradients, in float64 with autocast off, where
every product and sum of grid values is exact.  So the training path computes, bit for bit,
the function the coding path computes (tested), and the network learns exactly what it will
run.  Only these small networks pay for float64; the transforms train in float32 or bf16.

``quantized=False`` builds the same layers as plain float convolutions (the "float path"
whose rate the integer path is measured against, docs/determinism.md): its coding outputs
are then only reproducible on the same kind of machine.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cmfr_codec.models import stripes

ACTIVATION_BITS = 8
WEIGHT_BITS = 12
ACTIVATION_LIMIT = (1 << 19) - 1
"""Largest ``|A|``: activations live in about [-2048, 2048) with a resolution of 1/256."""
WEIGHT_LIMIT = (1 << 17) - 1
"""Largest ``|W|``: weights in about [-32, 32) with a resolution of 1/4096."""
EXACT_LIMIT = 1 << 53
LEAKY_SHIFT = 3
"""LeakyReLU slope ``2**-LEAKY_SHIFT`` = 1/8, an exact shift on integers."""

_ACTIVATION_SCALE = float(1 << ACTIVATION_BITS)
_WEIGHT_SCALE = float(1 << WEIGHT_BITS)
_BIAS_SCALE = float(1 << (ACTIVATION_BITS + WEIGHT_BITS))


def _round_ste(values: torch.Tensor) -> torch.Tensor:
    """``round(values)`` (half to even, as ``torch.round``) with the identity as gradient."""
    return values + (torch.round(values) - values).detach()


def _floor_ste(values: torch.Tensor) -> torch.Tensor:
    return values + (torch.floor(values) - values).detach()


def to_grid(values: torch.Tensor, offset: float = 0.5) -> torch.Tensor:
    """Training: ``floor(values * 256 + offset) / 256`` clamped, straight-through.

    ``offset`` 1/2 rounds (halves up) as a convolution's shift does, 0 floors as the leaky
    shift does: the same integers as :meth:`IntegerConv2d.exact` and :meth:`IntegerLeakyReLU.exact`.
    """
    limit = ACTIVATION_LIMIT / _ACTIVATION_SCALE
    return (_floor_ste(values * _ACTIVATION_SCALE + offset) / _ACTIVATION_SCALE).clamp(-limit, limit)


def to_units(values: torch.Tensor) -> torch.Tensor:
    """Coding: real values -> integer activations ``A`` (float64), rounded (halves up) and clamped.

    Values already on the grid (decoded latents: integers plus means in 1/256) convert
    exactly: multiplying a float32 or float64 by 256 is exact.
    """
    units = torch.floor(values.to(torch.float64) * _ACTIVATION_SCALE + 0.5)
    return units.clamp(-ACTIVATION_LIMIT, ACTIVATION_LIMIT)


def from_units(units: torch.Tensor) -> torch.Tensor:
    """Integer activations -> their exact real values (float64: a division by a power of two)."""
    return units / _ACTIVATION_SCALE


class IntegerConv2d(nn.Module):
    """A k x k convolution (stride 1, zero padding ``k // 2``), full or depthwise, in fixed point.

    ``forward`` is the training path (fake quantisation), :meth:`exact` the coding path on
    integer activations.  With ``quantized=False`` both are a plain float convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, depthwise: bool = False,
                 quantized: bool = True) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if depthwise and in_channels != out_channels:
            raise ValueError(f"a depthwise convolution keeps its channels, got {in_channels} -> {out_channels}")
        fan_in = (1 if depthwise else in_channels) * kernel_size * kernel_size
        # Worst case |S| = fan_in * ACTIVATION_LIMIT * WEIGHT_LIMIT + |B| must stay exact.
        if fan_in * (ACTIVATION_LIMIT + 1) * (WEIGHT_LIMIT + 1) * 2 > EXACT_LIMIT:
            raise ValueError(f"fan-in {fan_in} is too large for exact float64 sums")
        self.kernel_size = kernel_size
        self.depthwise = depthwise
        self.quantized = quantized
        reference = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                              groups=in_channels if depthwise else 1)
        self.weight = reference.weight
        self.bias = reference.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = x.shape[1] if self.depthwise else 1
        if not self.quantized:
            padding = self.kernel_size // 2
            if stripes.active(x):  # the coding convolution: one layout whichever path made x
                return stripes.conv2d(x, self.weight, self.bias, (1, 1), (padding, padding), (1, 1), groups)
            return F.conv2d(x, self.weight, self.bias, padding=padding, groups=groups)
        with torch.autocast(x.device.type, enabled=False):
            weight = _round_ste(self.weight.to(torch.float64) * _WEIGHT_SCALE)
            weight = weight.clamp(-WEIGHT_LIMIT, WEIGHT_LIMIT) / _WEIGHT_SCALE
            bias = _round_ste(self.bias.to(torch.float64) * _BIAS_SCALE) / _BIAS_SCALE
            out = F.conv2d(x.to(torch.float64), weight, bias, padding=self.kernel_size // 2, groups=groups)
            return to_grid(out).to(x.dtype)

    def exact(self, units: torch.Tensor) -> torch.Tensor:
        """Integer activations ``A`` (B, C, H, W), float64 -> the next layer's ``A'``, exactly."""
        weight = torch.round(self.weight.to(torch.float64) * _WEIGHT_SCALE).clamp(-WEIGHT_LIMIT, WEIGHT_LIMIT)
        bias = torch.round(self.bias.to(torch.float64) * _BIAS_SCALE)
        if bias.abs().max() > EXACT_LIMIT / 2:
            raise ValueError("a bias is too large for exact float64 sums")
        total = _exact_convolution(units, weight, self.depthwise) + bias[None, :, None, None]
        shifted = torch.floor((total + _WEIGHT_SCALE / 2) / _WEIGHT_SCALE)
        return shifted.clamp(-ACTIVATION_LIMIT, ACTIVATION_LIMIT)


def _exact_convolution(units: torch.Tensor, weight: torch.Tensor, depthwise: bool) -> torch.Tensor:
    """``sum W * A`` over each output position, as matrix or element-wise products of integers."""
    kernel = weight.shape[-1]
    radius = kernel // 2
    batch, channels, height, width = units.shape
    padded = F.pad(units, (radius, radius, radius, radius)) if radius else units
    total = None
    for row in range(kernel):
        for column in range(kernel):
            window = padded[:, :, row:row + height, column:column + width]
            if depthwise:
                term = window * weight[None, :, 0, row, column, None, None]
            else:
                term = torch.matmul(weight[:, :, row, column], window.reshape(batch, channels, -1))
                term = term.reshape(batch, -1, height, width)
            total = term if total is None else total + term
    return total


class IntegerLeakyReLU(nn.Module):
    """LeakyReLU with slope 1/8: ``floor(A / 8)`` below zero on integers."""

    def __init__(self, quantized: bool = True) -> None:
        super().__init__()
        self.quantized = quantized

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.quantized:
            return F.leaky_relu(x, 2.0 ** -LEAKY_SHIFT)
        with torch.autocast(x.device.type, enabled=False):
            return to_grid(F.leaky_relu(x.to(torch.float64), 2.0 ** -LEAKY_SHIFT), offset=0.0).to(x.dtype)

    @staticmethod
    def exact(units: torch.Tensor) -> torch.Tensor:
        return torch.where(units >= 0, units, torch.floor(units / (1 << LEAKY_SHIFT)))


class IntegerPixelShuffle(nn.PixelShuffle):
    """Sub-pixel rearrangement: a permutation, exact on anything."""

    def exact(self, units: torch.Tensor) -> torch.Tensor:
        return self(units)


class IntegerNetwork(nn.Sequential):
    """A chain of integer layers; :meth:`coding` is the one entry point the coding paths use."""

    @property
    def quantized(self) -> bool:
        return all(getattr(layer, "quantized", True) for layer in self)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Training path: inputs snapped to the activation grid (as :meth:`coding` does), then the layers."""
        if self.quantized:
            with torch.autocast(inputs.device.type, enabled=False):
                inputs = to_grid(inputs.to(torch.float64)).to(inputs.dtype)
        return super().forward(inputs)

    @torch.no_grad()
    def coding(self, inputs: torch.Tensor) -> torch.Tensor:
        """Coding path: real ``inputs`` -> real outputs.

        Quantized: the exact integer computation, returned as float64 values on the 1/256 grid
        (identical on every device).  Float path: the plain float forward.
        """
        if not self.quantized:
            return self(inputs)
        units = to_units(inputs)
        for layer in self:
            units = layer.exact(units)
        return from_units(units)


def integer_block(in_channels: int, hidden_channels: int, out_channels: int, quantized: bool = True,
                  depthwise_layers: int = 2) -> IntegerNetwork:
    """1x1 mixing, ``depthwise_layers`` depthwise 3x3 for a spatial view, 1x1 out, LeakyReLU between."""
    layers: list[nn.Module] = [IntegerConv2d(in_channels, hidden_channels, 1, quantized=quantized),
                               IntegerLeakyReLU(quantized)]
    for _ in range(depthwise_layers):
        layers += [IntegerConv2d(hidden_channels, hidden_channels, 3, depthwise=True, quantized=quantized),
                   IntegerLeakyReLU(quantized)]
    layers.append(IntegerConv2d(hidden_channels, out_channels, 1, quantized=quantized))
    return IntegerNetwork(*layers)


def integer_hyper_synthesis(hyper_channels: int, out_channels: int, quantized: bool = True) -> IntegerNetwork:
    """Hyper-latent (1/4 of the latent grid) -> latent-grid parameters: two x2 sub-pixel steps."""
    return IntegerNetwork(
        IntegerConv2d(hyper_channels, hyper_channels, 3, quantized=quantized), IntegerLeakyReLU(quantized),
        IntegerConv2d(hyper_channels, 4 * hyper_channels, 3, quantized=quantized), IntegerPixelShuffle(2),
        IntegerLeakyReLU(quantized),
        IntegerConv2d(hyper_channels, hyper_channels, 3, quantized=quantized), IntegerLeakyReLU(quantized),
        IntegerConv2d(hyper_channels, 4 * out_channels, 3, quantized=quantized), IntegerPixelShuffle(2),
    )


def table_indices(positions: torch.Tensor, count: int) -> torch.Tensor:
    """Scale-table index of each position (nearest entry: ``floor(p + 1/2)``, clamped), int32.

    On the integer path ``positions`` are exact multiples of 1/256 in float64, so this is an
    exact operation; ``math.floor`` semantics on ties (``x.5`` goes up) on every device.
    """
    return torch.floor(positions.to(torch.float64) + 0.5).clamp(0, count - 1).to(torch.int32)
