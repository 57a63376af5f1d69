"""Entropy-coded latents: each one module whose training and coding paths cannot drift apart.

Every codec here has three symmetric methods:

- ``forward``: training.  Quantises with additive uniform noise (``"noise"``) or
  straight-through rounding (``"ste"``) and returns the quantised latent and its
  likelihoods (the rate is ``-log2`` of their product).
- ``compress``: real bytes through :mod:`cmfr_codec.entropy`.  Returns the reconstruction
  the decoder will build, exactly, and the streams by name (``dict[str, bytes]``).
- ``decompress``: the streams back to that same reconstruction.

Composition, as the pipelines use them::

    z --FactorizedLatentCodec--------------------------------> z_hat       streams "z"
                                                                 |
                                          hyperprior / temporal prior networks (caller)
                                                                 v
    y --QuadtreeContextCodec(common_params) --4 x GaussianConditionalCodec--> y_hat
                                                                  stream "y" (four steps, one ANS stream)

Only integers reach the entropy coder (symbols, table indices, integer CDF tables), and
``compress`` / ``decompress`` run the same float operations on the same inputs, so the
decoder's reconstruction is bit-identical to the encoder's on the same machine.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cmfr_codec.determinism import reproducible_inference
from cmfr_codec.entropy import (
    SYMBOL_LIMIT,
    AnsCoder,
    ConditionalCoder,
    FactorizedCoder,
    coder_bytes,
    finish_decoding,
    new_coder,
    open_coder,
    quantize_pmf_to_cdf,
)
from cmfr_codec.entropy.bands import (
    BandDecoder,
    StepBand,
    band_count,
    band_rows,
    band_stream_name,
    coded_band_count,
    encode_bands,
)
from cmfr_codec.entropy.conditional import TAIL_MASS
from cmfr_codec.errors import ModelError
from cmfr_codec.models.integer import integer_block, table_indices
from cmfr_codec.models.quality import QUALITY_LEVELS
from cmfr_codec.models.stripes import worker_count

Quantization = Literal["noise", "ste"]
"""How ``forward`` quantises: additive uniform noise in [-0.5, 0.5), or rounding with the
identity as its gradient (straight-through)."""

LIKELIHOOD_BOUND = 1e-9
"""Floor of every training likelihood (about 30 bits): keeps ``log`` finite early in training."""

SUPPORT_LIMIT = 255
"""Largest ``|value|`` a factorized table covers; mass beyond goes to the escape symbol."""

QualityIndex = int | float | torch.Tensor
"""One quality index, or a (B,) tensor of (fractional) indices, one per sample."""


def _lower_bound(inputs: torch.Tensor, bound: float) -> torch.Tensor:
    """``max(inputs, bound)`` whose gradient still flows where it would raise ``inputs``.

    A plain clamp has zero gradient below the bound, so a scale that falls below it would
    stay stuck there; this one lets the optimiser pull it back up.
    """
    return _LowerBound.apply(inputs, bound)


class _LowerBound(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs: torch.Tensor, bound: float) -> torch.Tensor:
        ctx.save_for_backward(inputs)
        ctx.bound = bound
        return inputs.clamp_min(bound)

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> tuple[torch.Tensor, None]:
        (inputs,) = ctx.saved_tensors
        passes = (inputs >= ctx.bound) | (gradient < 0)
        return gradient * passes, None


def _quantize(values: torch.Tensor, quantization: Quantization) -> torch.Tensor:
    """Training-time stand-in for ``round(values)``."""
    if quantization == "noise":
        return values + torch.empty_like(values).uniform_(-0.5, 0.5)
    if quantization == "ste":
        # round(v) exactly (v - v.detach() is 0.0), with the gradient of v.
        return torch.round(values).detach() + (values - values.detach())
    raise ValueError(f"quantization must be 'noise' or 'ste', got {quantization!r}")


def _integer_symbols(values: torch.Tensor) -> np.ndarray:
    """``round(values)`` as an int32 numpy array, for the entropy coder.

    Raises ValueError for non-finite values or ``|round(v)| >= SYMBOL_LIMIT``: the float to
    integer cast would silently wrap them.
    """
    rounded = torch.round(values.detach())
    if not bool(torch.isfinite(rounded).all()) or bool((rounded.abs() >= SYMBOL_LIMIT).any()):
        raise ValueError(f"latent has non-finite values or values with |v| >= {SYMBOL_LIMIT}: a broken network")
    return rounded.to(torch.int32).cpu().numpy()


def _check_single_frame(tensor: torch.Tensor, what: str) -> None:
    if tensor.ndim != 4 or tensor.shape[0] != 1:
        raise ValueError(f"{what} must have shape (1, C, H, W) for coding, got {tuple(tensor.shape)}")


class FactorizedLatentCodec(nn.Module):
    """Hyper-latent ``z`` under a learned, per-channel, fully factorized density.

    The density is the "entropy bottleneck" of Balle et al. (2018): per channel, a monotone
    cumulative ``c(x) = sigmoid(f(x))`` where ``f`` chains small matrices with
    softplus-constrained (so positive) weights, biases, and ``x + tanh(a) * tanh(x)``
    factors (``|tanh(a)| < 1`` keeps them increasing)::

        x (1) --[W1 b1 a1]--> 3 --[W2 b2 a2]--> 3 --[W3 b3 a3]--> 3 --[W4 b4]--> 1 = f(x)

    ``p(z_hat) = c(z_hat + 1/2) - c(z_hat - 1/2)``.

    Coding quantises to ``round(z)`` with no median offset: ``z_hat`` is then an exact
    integer tensor, identical on any machine, whereas a float offset would make the decoder's
    ``z_hat`` depend on float arithmetic.  The hyperprior synthesis learns any shift it needs.

    Coding uses only integer tables made by :meth:`update_tables` and kept as buffers, so
    they travel in the state_dict (the weights file) and the decoder never rebuilds them
    from floats.  Call it after training, before saving the weights to ship.

    ``density_bands`` > 1 gives each band of quality indices its own densities: band ``b`` holds
    the indices ``q`` with ``q * density_bands // QUALITY_LEVELS == b``, and its density of channel ``c`` is
    row ``b * channels + c`` of every parameter and table.  The hyper-analysis sees the latent
    divided by the quality's step, so ``z`` is narrow at low qualities and wide at high ones, more
    than one density per channel can follow.  The methods that code or price ``z`` then take
    the quality index (the bitstream's, or a (B,) tensor in training); with one band they may
    omit it.
    """

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0,
                 name: str = "z", density_bands: int = 1):
        super().__init__()
        if not 1 <= density_bands <= QUALITY_LEVELS:
            raise ValueError(f"density_bands must be 1..{QUALITY_LEVELS}, got {density_bands}")
        self.channels = channels
        self.name = name
        self.density_bands = density_bands
        rows = density_bands * channels
        widths = (1, *filters, 1)
        # Initialised so that f starts near x / init_scale: a broad, roughly logistic density.
        layer_scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            initial_weight = math.log(math.expm1(1 / layer_scale / fan_out))
            self.matrices.append(nn.Parameter(torch.full((rows, fan_out, fan_in), initial_weight)))
            self.biases.append(nn.Parameter(torch.empty(rows, fan_out, 1).uniform_(-0.5, 0.5)))
            if layer < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(rows, fan_out, 1)))
        # (rows, longest): row r's integer CDF is cdf_tables[r, :cdf_lengths[r]], zeros after it;
        # cdf_offsets[r] is the value of its first symbol.  Empty until update_tables().
        self.register_buffer("cdf_tables", torch.zeros(rows, 0, dtype=torch.int32))
        self.register_buffer("cdf_lengths", torch.zeros(rows, dtype=torch.int32))
        self.register_buffer("cdf_offsets", torch.zeros(rows, dtype=torch.int32))

    def forward(self, z: torch.Tensor, quantization: Quantization = "noise",
                quality_index: QualityIndex | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``z`` (B, C, H, W) -> quantised ``z_hat`` and likelihoods in (0, 1], both (B, C, H, W)."""
        z_hat = _quantize(z, quantization)
        return z_hat, self.likelihoods(z_hat, quality_index)

    def likelihoods(self, z_hat: torch.Tensor, quality_index: QualityIndex | None = None) -> torch.Tensor:
        """``c(z_hat + 1/2) - c(z_hat - 1/2)`` per element, bounded below by ``LIKELIHOOD_BOUND``.

        ``quality_index`` picks each sample's band: one index, or a (B,) tensor of (fractional)
        indices.  Both cumulatives are taken on the side of the median where they are small
        (flipping the sign of the logits), so the difference keeps its precision in the tails.
        Always in float32 at least, autocast off: in bfloat16 (a GPU's mixed-precision training)
        the two sigmoids keep 8 bits, and the narrow densities of trained hyper-latents would be
        fitted to their rounding.
        """
        batch, channels = z_hat.shape[:2]
        bands = self._sample_bands(quality_index, batch).to(z_hat.device)
        rows = (bands[:, None] * self.channels + torch.arange(channels, device=z_hat.device)).reshape(-1)
        with torch.autocast(z_hat.device.type, enabled=False):
            values = z_hat if z_hat.dtype == torch.float64 else z_hat.float()
            probabilities = self._bin_probabilities(values.reshape(batch * channels, 1, -1), rows)
        return _lower_bound(probabilities.reshape(z_hat.shape), LIKELIHOOD_BOUND)

    def density_band(self, quality_index: int | None) -> int:
        """The band that codes a stream of ``quality_index`` (None: only for a one-band model)."""
        return int(self._sample_bands(quality_index, 1)[0])

    def _sample_bands(self, quality_index: QualityIndex | None, batch: int) -> torch.Tensor:
        """(batch,) band numbers (long) for one quality index or a (batch,) tensor of them."""
        if quality_index is None:
            if self.density_bands > 1:
                raise ValueError(f"the factorized latent '{self.name}' has {self.density_bands} density bands: "
                                 "a quality index is needed")
            return torch.zeros(batch, dtype=torch.long)
        index = torch.as_tensor(quality_index, dtype=torch.float64).reshape(-1).cpu()
        if bool((index < 0).any()) or bool((index > QUALITY_LEVELS - 1).any()):
            raise ValueError(f"quality_index must lie in 0..{QUALITY_LEVELS - 1}")
        bands = (index.floor() * self.density_bands / QUALITY_LEVELS).floor().long()
        return bands.expand(batch) if bands.numel() == 1 else bands

    @torch.no_grad()
    def update_tables(self) -> None:
        """Build the integer CDF tables from the current density and store them as buffers.

        Per row (band and channel), in float64: evaluate the density on every integer in
        ``[-SUPPORT_LIMIT, SUPPORT_LIMIT]``, keep the narrowest range outside which each
        side holds at most ``TAIL_MASS / 2`` (as for the conditional tables: a wider range
        would spend at least one 16-bit quantum on each extra symbol, more than the tail it
        would hold), give the tails to the escape symbol, and quantise to an integer CDF.
        """
        rows = self.density_bands * self.channels
        grid = torch.arange(-SUPPORT_LIMIT, SUPPORT_LIMIT + 1, dtype=torch.float64, device=self.cdf_tables.device)
        per_row = grid.expand(rows, 1, grid.numel())
        probabilities = self._bin_probabilities(per_row).reshape(rows, -1).cpu().numpy()
        below = torch.sigmoid(self._cumulative_logits(per_row - 0.5)).reshape(rows, -1).cpu().numpy()
        above = torch.sigmoid(-self._cumulative_logits(per_row + 0.5)).reshape(rows, -1).cpu().numpy()
        cdfs, offsets = [], []
        for row in range(rows):
            # below[v] = P(Z < v - 1/2) rises with v, above[v] = P(Z > v + 1/2) falls.
            first = max(int(np.searchsorted(below[row], TAIL_MASS / 2, side="right")) - 1, 0)
            last = min(int(np.searchsorted(-above[row], -TAIL_MASS / 2, side="left")), grid.numel() - 1)
            tails = below[row, first] + above[row, last]
            cdfs.append(quantize_pmf_to_cdf(np.append(probabilities[row, first:last + 1], tails)))
            offsets.append(first - SUPPORT_LIMIT)
        longest = max(cdf.size for cdf in cdfs)
        tables = np.zeros((rows, longest), dtype=np.int32)
        for row, cdf in enumerate(cdfs):
            tables[row, :cdf.size] = cdf
        self.cdf_tables = torch.from_numpy(tables).to(self.cdf_tables.device)
        self.cdf_lengths = torch.tensor([cdf.size for cdf in cdfs], dtype=torch.int32, device=self.cdf_tables.device)
        self.cdf_offsets = torch.tensor(offsets, dtype=torch.int32, device=self.cdf_tables.device)

    @reproducible_inference()
    def compress(self, z: torch.Tensor, quality_index: int | None = None) -> tuple[torch.Tensor, dict[str, bytes]]:
        """``z`` (1, C, H, W) -> (``z_hat = round(z)``, ``{name: bytes}``)."""
        z_hat, symbols = self.quantize(z)
        coder = new_coder()
        self.push(coder, symbols, quality_index)
        return z_hat, {self.name: coder_bytes(coder)}

    @reproducible_inference()
    def decompress(self, streams: dict[str, bytes], size: tuple[int, int],
                   quality_index: int | None = None) -> torch.Tensor:
        """The stream named ``name`` and the latent's ``(H, W)`` -> ``z_hat`` (1, C, H, W)."""
        coder = open_coder(streams[self.name])
        z_hat = self.pop(coder, size, quality_index)
        finish_decoding(coder)
        return z_hat

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
        """The coding side without the coder: (``z_hat``, its integer symbols (C, H, W))."""
        _check_single_frame(z, "z")
        symbols = _integer_symbols(z)[0]
        return torch.from_numpy(symbols).to(z)[None], symbols

    def push(self, coder: AnsCoder, symbols: np.ndarray, quality_index: int | None = None) -> None:
        """Push :meth:`quantize` d symbols onto a shared ANS stack (popped by :meth:`pop`)."""
        self._coder(self.density_band(quality_index)).push(coder, symbols)

    def pop(self, coder: AnsCoder, size: tuple[int, int], quality_index: int | None = None) -> torch.Tensor:
        """``z_hat`` (1, C, H, W) from a shared ANS stack."""
        symbols = self._coder(self.density_band(quality_index)).pop(coder, (self.channels, *size))
        return torch.from_numpy(symbols).to(self.matrices[0])[None]

    def _coder(self, band: int) -> FactorizedCoder:
        if self.cdf_tables.shape[1] == 0:
            raise ModelError(f"the factorized latent '{self.name}' has no integer CDF tables: "
                             "call update_tables() before saving weights used for coding")
        rows = range(band * self.channels, (band + 1) * self.channels)
        tables = self.cdf_tables.cpu().numpy()
        lengths = self.cdf_lengths.cpu().numpy()
        return FactorizedCoder([tables[row, :lengths[row]] for row in rows], self.cdf_offsets.cpu().numpy()[rows])

    @torch.no_grad()
    def spread_bands(self, source: FactorizedLatentCodec) -> None:
        """Give every band the density of ``source``'s band for the same qualities (same channels).

        Band ``b`` starts from the band of ``source`` holding its lowest quality index:
        a model refitted with more density bands than it was trained with starts from the density it had.
        """
        if source.channels != self.channels or len(source.matrices) != len(self.matrices):
            raise ValueError(f"cannot spread the densities of '{source.name}' over '{self.name}': other shapes")
        first_qualities = [-(-band * QUALITY_LEVELS // self.density_bands) for band in range(self.density_bands)]
        source_bands = source._sample_bands(torch.tensor(first_qualities), self.density_bands)
        rows = (source_bands[:, None] * self.channels + torch.arange(self.channels)).reshape(-1)
        for mine, theirs in zip((*self.matrices, *self.biases, *self.factors),
                                (*source.matrices, *source.biases, *source.factors), strict=True):
            mine.copy_(theirs[rows.to(theirs.device)])
        self.cdf_tables = torch.zeros(self.density_bands * self.channels, 0, dtype=torch.int32, device=self.cdf_tables.device)

    def _cumulative_logits(self, values: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``f(values)`` for ``values`` (R, 1, N), in the dtype of ``values``: row ``i`` under the density
        of row ``rows[i]`` (every row in order when ``rows`` is None)."""
        def chosen(parameter: torch.Tensor) -> torch.Tensor:
            return (parameter if rows is None else parameter[rows]).to(values)

        logits = values
        for layer, (matrix, bias) in enumerate(zip(self.matrices, self.biases, strict=True)):
            logits = torch.matmul(F.softplus(chosen(matrix)), logits) + chosen(bias)
            if layer < len(self.factors):
                logits = logits + torch.tanh(chosen(self.factors[layer])) * torch.tanh(logits)
        return logits

    def _bin_probabilities(self, centres: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Mass of ``[centre - 1/2, centre + 1/2]`` for ``centres`` (R, 1, N), rows as for :meth:`_cumulative_logits`."""
        lower = self._cumulative_logits(centres - 0.5, rows)
        upper = self._cumulative_logits(centres + 0.5, rows)
        # Right of the median both sigmoids are near 1; negate the logits to work with 1 - c.
        side = torch.where(lower + upper > 0, -1.0, 1.0).to(centres).detach()
        return torch.abs(torch.sigmoid(side * upper) - torch.sigmoid(side * lower))

    def _load_from_state_dict(self, state_dict: dict[str, torch.Tensor], prefix: str, *args, **kwargs) -> None:
        # The tables' width is known only after update_tables(); resize before copying in.
        key = prefix + "cdf_tables"
        if key in state_dict:
            self.cdf_tables = torch.zeros_like(state_dict[key], device=self.cdf_tables.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


@functools.cache
def _conditional_coder(distribution: str) -> ConditionalCoder:
    """One coder (and its 64 tables) per distribution, shared by every codec instance."""
    return ConditionalCoder(distribution)


class GaussianConditionalCodec(nn.Module):
    """A latent coded given its per-element scale-table ``positions`` and ``means`` (from the caller's networks).

    ::

        y, means --round(y - means)--> symbols --ConditionalCoder--> bytes
        positions --floor(p + 1/2), clamped--> table indices
        decoder: symbols + means = y_hat

    A *position* is a scale in the units of the log-spaced scale table: position ``p`` is the
    scale ``minimum * ratio**p`` (``ratio`` = 1.106 for the default table), and the coded
    table is the nearest entry, ``round(p)``.  Networks output positions rather than scales
    so that the table index is a rounding of an exact network output, with no ``exp`` or
    ``log`` between (:mod:`cmfr_codec.models.integer`).

    ``distribution`` is ``"gaussian"`` (scale = standard deviation) or ``"laplace"`` (scale =
    diversity).  Training likelihoods clamp positions to the table's range, so the rate
    learned is the rate coded.

    ``skip_below_index > 0`` leaves positions whose table index is below it out of the
    stream (their scale is so small that they are nearly always 0 anyway); both sides
    reconstruct them as ``y_hat = mean``.  It is part of the model config: encoder and
    decoder must agree.  ``forward`` ignores it: those positions cost almost no bits.

    ``index_map`` (a buffer, the identity until :meth:`calibrate` sets it) sends each table
    index the network predicts to the table that is coded: an integer lookup after the
    rounding, so it is exact on every device.  It corrects scales that are systematically
    too wide or too narrow, the rate model only: symbols and ``y_hat`` do not depend on it.
    """

    def __init__(self, distribution: str = "gaussian", skip_below_index: int = 0, name: str = "y"):
        super().__init__()
        if distribution not in ("gaussian", "laplace"):
            raise ValueError(f"distribution must be 'gaussian' or 'laplace', got {distribution!r}")
        self.distribution = distribution
        self.skip_below_index = skip_below_index
        self.name = name
        self.scale_table = _conditional_coder(distribution).scale_table
        self.register_buffer("index_map", torch.arange(self.scale_table.count, dtype=torch.int64))

    def forward(self, y: torch.Tensor, positions: torch.Tensor, means: torch.Tensor,
                quantization: Quantization = "noise") -> tuple[torch.Tensor, torch.Tensor]:
        """-> ``y_hat`` (noise, or ``round(y - means) + means``) and likelihoods, all y's shape."""
        centred = _quantize(y - means, quantization)
        return centred + means, self.likelihoods(centred, positions)

    def position(self, scale: float) -> float:
        """The (fractional) table position of ``scale``."""
        return math.log(scale / self.scale_table.minimum) / self.scale_table.log_step

    def scales(self, positions: torch.Tensor) -> torch.Tensor:
        """The scale each position stands for, with positions clamped to the table (gradient kept)."""
        inside = -_lower_bound(-_lower_bound(positions, 0.0), -(self.scale_table.count - 1.0))
        return self.scale_table.minimum * torch.exp(inside * self.scale_table.log_step)

    def likelihoods(self, centred: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Mass of ``[v - 1/2, v + 1/2]`` for ``v = y_hat - mean``, bounded below by ``LIKELIHOOD_BOUND``.

        The distributions are symmetric, so the mass is taken at ``|v|`` in the upper tail,
        where ``P(X > x)`` is computed without cancellation.
        """
        scales = self.scales(self.mapped_positions(positions))
        distance = centred.abs()
        mass = self._upper_tail(distance - 0.5, scales) - self._upper_tail(distance + 0.5, scales)
        return _lower_bound(mass, LIKELIHOOD_BOUND)

    def mapped_positions(self, positions: torch.Tensor) -> torch.Tensor:
        """``positions`` moved by as many entries as ``index_map`` moves their table index (gradient kept)."""
        predicted = table_indices(positions.detach(), self.scale_table.count).long()
        shift = self.index_map.to(predicted.device)[predicted] - predicted
        return positions + shift.to(positions.dtype) if bool(shift.any()) else positions

    @torch.no_grad()
    def table_bits(self, centred: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """(count, count) float64: ``[k, j]`` the bits of the symbols ``centred`` whose predicted table
        index is ``k`` if they were coded with table ``j``: the statistics :meth:`calibrate` reads."""
        count = self.scale_table.count
        predicted = table_indices(positions, count).long().flatten()
        distance = centred.detach().abs().flatten().double()
        table = self.scales(torch.arange(count, dtype=torch.float64, device=distance.device))
        bits = torch.zeros(count, count, dtype=torch.float64)
        for index in predicted.unique().tolist():
            chosen = distance[predicted == index][:, None]
            mass = self._upper_tail(chosen - 0.5, table) - self._upper_tail(chosen + 0.5, table)
            bits[index] = -_lower_bound(mass, LIKELIHOOD_BOUND).log2().sum(dim=0).cpu()
        return bits

    @torch.no_grad()
    def calibrate(self, bits: torch.Tensor) -> None:
        """Set ``index_map``: each predicted index to the table that spent the fewest bits in ``bits``
        (summed :meth:`table_bits`); an index with no symbols keeps its own table."""
        seen = bits.sum(dim=1) > 0
        best = bits.argmin(dim=1)
        identity = torch.arange(self.scale_table.count)
        self.index_map.copy_(torch.where(seen, best, identity).to(self.index_map))

    def _upper_tail(self, x: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
        """``P(X > x)`` for the zero-mean distribution at ``scales``."""
        if self.distribution == "gaussian":
            return 0.5 * torch.erfc(x / (scales * math.sqrt(2.0)))
        decay = torch.exp(-x.abs() / scales)
        return torch.where(x >= 0, 0.5 * decay, 1 - 0.5 * decay)

    @reproducible_inference()
    def compress(self, y: torch.Tensor, positions: torch.Tensor,
                 means: torch.Tensor) -> tuple[torch.Tensor, dict[str, bytes]]:
        """``y``, ``positions``, ``means`` (1, ...) -> (``y_hat``, ``{name: bytes}``)."""
        y_hat, symbols, indices = self.quantize(y, positions, means)
        coder = new_coder()
        self.push(coder, symbols, indices)
        return y_hat, {self.name: coder_bytes(coder)}

    @reproducible_inference()
    def decompress(self, streams: dict[str, bytes], positions: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
        """The stream named ``name`` and the encoder's ``positions``, ``means`` -> ``y_hat``."""
        coder = open_coder(streams[self.name])
        y_hat = self.pop(coder, positions, means)
        finish_decoding(coder)
        return y_hat

    def quantize(self, y: torch.Tensor, positions: torch.Tensor,
                 means: torch.Tensor) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """The coding side without the coder: (``y_hat``, integer symbols, table indices)."""
        if y.shape[0] != 1 or y.shape != positions.shape or y.shape != means.shape:
            raise ValueError(f"y, positions and means must share one shape (1, ...), got "
                             f"{tuple(y.shape)}, {tuple(positions.shape)}, {tuple(means.shape)}")
        indices = self.indices(positions)
        symbols = _integer_symbols(y.to(means.dtype) - means)
        symbols[_conditional_coder(self.distribution).skip_mask(indices, self.skip_below_index)] = 0
        return self.reconstruct(symbols, means), symbols, indices

    def push(self, coder: AnsCoder, symbols: np.ndarray, indices: np.ndarray) -> None:
        """Push :meth:`quantize` d symbols onto a shared ANS stack (popped by :meth:`pop`)."""
        _conditional_coder(self.distribution).push(coder, symbols, indices, self.skip_below_index)

    def pop(self, coder: AnsCoder, positions: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
        """``y_hat`` from a shared ANS stack, given the encoder's ``positions`` and ``means``."""
        symbols = _conditional_coder(self.distribution).pop(coder, self.indices(positions), self.skip_below_index)
        return self.reconstruct(symbols, means)

    def indices(self, positions: torch.Tensor) -> np.ndarray:
        """The coded table of each position: its nearest entry, through ``index_map``."""
        if not bool(torch.isfinite(positions).all()):
            raise ValueError("scale positions are not finite: a broken network")
        predicted = table_indices(positions, self.scale_table.count).long()
        return self.index_map.to(predicted.device)[predicted].to(torch.int32).cpu().numpy()

    def _load_from_state_dict(self, state_dict: dict[str, torch.Tensor], prefix: str, *args, **kwargs) -> None:
        # Weights saved before index_map existed code every position with its own table.
        state_dict.setdefault(prefix + "index_map", torch.arange(self.scale_table.count, dtype=torch.int64))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @staticmethod
    def reconstruct(symbols: np.ndarray, means: torch.Tensor) -> torch.Tensor:
        # One expression for both sides: int32 symbols -> the means' dtype, plus the means.
        return torch.from_numpy(symbols).to(means) + means


CodedStep = tuple[GaussianConditionalCodec, np.ndarray, np.ndarray]
"""One quadtree step ready to push: its codec, integer symbols and scale-table indices."""

GROUPS = 4
INITIAL_SCALE = 1.0
STEPS = 4
PHASES = ((0, 0), (1, 1), (0, 1), (1, 0))
"""Spatial phases (row, column inside each 2x2 block) in the order each group visits them:
diagonal first, so a group's later phases have decoded neighbours on two sides."""


def step_phase(group: int, step: int) -> tuple[int, int]:
    """Which phase of its 2x2 blocks channel group ``group`` codes in ``step``."""
    return PHASES[(group + step) % len(PHASES)]


class QuadtreeContextCodec(nn.Module):
    """``y`` coded in four steps over channel groups and 2x2 spatial phases (DCVC-DC's quadtree).

    Channels split into 4 groups; each 2x2 block of pixels into 4 phases.  In step ``s``,
    group ``g`` codes phase ``PHASES[(g + s) % 4]``, so every step codes each phase once
    (in some group) and after 4 steps every (group, phase) pair is coded exactly once.
    Step number at each position of a 2x2 block::

        group 0   group 1   group 2   group 3
         0 2       3 1       2 0       1 3
         3 1       2 0       1 3       0 2

    Each step's ``(positions, means)`` come from its own small :class:`IntegerNetwork` fed
    with the caller's ``common_params`` (hyperprior and temporal prior, at y's resolution)
    and, from step 1 on, everything decoded so far (zeros elsewhere).  No mask channel: each
    step has its own network and a fixed pattern of decoded positions, so a mask would be a
    constant::

        common_params ----------------------------+-------------+------------ ...
              |                                   |             |
           net 0 -> (position, mean) -> code step 0             |
                                        |         v             |
                                        +---> y_hat so far -> net 1 -> code step 1 ...

    A step's subset is gathered into one ``(1, C, H/2, W/2)`` tensor (group g's channels
    at its phase) and coded by a :class:`GaussianConditionalCodec`.  H and W of the latent
    must be even (the pipeline pads).

    On the coding paths the networks run exactly (:meth:`IntegerNetwork.coding`) and the
    decoded latent is built in float64, where ``symbol + mean`` is exact (means are multiples
    of 1/256), then returned as float32.  ``common_params`` given to the coding paths must
    come from integer networks' :meth:`IntegerNetwork.coding` too.
    """

    def __init__(self, channels: int, hyper_channels: int, hidden_channels: int | None = None,
                 distribution: str = "gaussian", skip_below_index: int = 0, name: str = "y",
                 quantized: bool = True):
        super().__init__()
        if channels % GROUPS:
            raise ValueError(f"channels must be a multiple of {GROUPS}, got {channels}")
        self.channels = channels
        self.name = name
        hidden = hidden_channels or channels
        self.parameter_networks = nn.ModuleList(
            integer_block(hyper_channels + (channels if step else 0), hidden, 2 * channels, quantized)
            for step in range(STEPS)
        )
        self.step_codecs = nn.ModuleList(
            GaussianConditionalCodec(distribution, skip_below_index, name=f"{name}{step}")
            for step in range(STEPS)
        )
        # Start every scale near INITIAL_SCALE rather than at the table's bottom (position 0),
        # where every symbol of an untrained model would go through the escape.
        initial_position = self.step_codecs[0].position(INITIAL_SCALE)
        with torch.no_grad():
            for network in self.parameter_networks:
                network[-1].bias[:channels].fill_(initial_position)

    def forward(self, y: torch.Tensor, common_params: torch.Tensor,
                quantization: Quantization = "noise") -> tuple[torch.Tensor, torch.Tensor]:
        """``y`` (B, C, H, W), ``common_params`` (B, hyper, H, W) -> ``y_hat``, likelihoods (B, C, H, W)."""
        self._check_shapes(y.shape, common_params)
        y_hat = torch.zeros_like(y)
        likelihoods = torch.ones_like(y)
        for step, codec in enumerate(self.step_codecs):
            positions, means = self._step_parameters(step, common_params, y_hat, coding=False)
            step_y_hat, step_likelihoods = codec(_gather(y, step), positions, means, quantization)
            y_hat = _scatter(y_hat, step_y_hat, step)
            likelihoods = _scatter(likelihoods, step_likelihoods, step)
        return y_hat, likelihoods

    @reproducible_inference()
    def compress(self, y: torch.Tensor, common_params: torch.Tensor) -> tuple[torch.Tensor, dict[str, bytes]]:
        """``y`` (1, C, H, W) -> (``y_hat``, one stream ``{name}`` holding the four steps)."""
        y_hat, coded = self.quantize(y, common_params)
        coder = new_coder()
        self.push(coder, coded)
        return y_hat, {self.name: coder_bytes(coder)}

    @reproducible_inference()
    def decompress(self, streams: dict[str, bytes], common_params: torch.Tensor) -> torch.Tensor:
        """The stream ``{name}`` and the encoder's ``common_params`` -> ``y_hat`` (1, C, H, W)."""
        coder = open_coder(streams[self.name])
        y_hat = self.pop(coder, common_params)
        finish_decoding(coder)
        return y_hat

    def quantize(self, y: torch.Tensor, common_params: torch.Tensor) -> tuple[torch.Tensor, list[CodedStep]]:
        """The coding side without the coder: ``y_hat`` (float32) and each step's symbols and table indices.

        Every step's parameters need the earlier steps' ``y_hat``, which the encoder has, so all
        four steps are quantised first and pushed afterwards (:meth:`push`).
        """
        _check_single_frame(y, "y")
        self._check_shapes(y.shape, common_params)
        y_hat = torch.zeros_like(y, dtype=torch.float64)
        coded = []
        for step, codec in enumerate(self.step_codecs):
            positions, means = self._step_parameters(step, common_params, y_hat, coding=True)
            step_y_hat, symbols, indices = codec.quantize(_gather(y, step), positions, means)
            y_hat = _scatter(y_hat, step_y_hat, step)
            coded.append((codec, symbols, indices))
        return y_hat.to(torch.float32), coded

    @staticmethod
    def push(coder: AnsCoder, coded: list[CodedStep]) -> None:
        """Push the steps onto a shared ANS stack: step 3 first, step 0 last, so that the decoder
        pops them in step order (ANS is a stack)."""
        for codec, symbols, indices in reversed(coded):
            codec.push(coder, symbols, indices)

    def pop(self, coder: AnsCoder, common_params: torch.Tensor) -> torch.Tensor:
        """``y_hat`` (1, C, H, W, float32) from a shared ANS stack, each step's parameters computed
        as it goes."""
        return self.pop_bands(BandDecoder(coder, [], workers=1), [slice(None)], common_params)

    def pop_bands(self, bands: BandDecoder, rows: list[slice], common_params: torch.Tensor) -> torch.Tensor:
        """:meth:`pop` from row bands (:mod:`cmfr_codec.entropy.bands`): band ``k`` holds rows ``rows[k]``
        of every step's subset."""
        _check_single_frame(common_params, "common_params")
        _, _, height, width = common_params.shape
        y_hat = common_params.new_zeros(1, self.channels, height, width, dtype=torch.float64)
        self._check_shapes(y_hat.shape, common_params)
        for step, codec in enumerate(self.step_codecs):
            positions, means = self._step_parameters(step, common_params, y_hat, coding=True)
            indices = codec.indices(positions)
            symbols = bands.pop(codec.distribution, codec.skip_below_index, [indices[..., band, :] for band in rows])
            y_hat = _scatter(y_hat, codec.reconstruct(np.concatenate(symbols, axis=-2), means), step)
        return y_hat.to(torch.float32)

    def _step_parameters(self, step: int, common_params: torch.Tensor, y_hat: torch.Tensor,
                         coding: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(positions, means) of step ``step``'s subset, each (B, C, H/2, W/2).

        Coding: float64 in and out on the integer path (exact grid values), so that
        ``symbol + mean`` stays exact; the float path computes in float32.
        """
        network = self.parameter_networks[step]
        if coding:
            dtype = torch.float64 if network.quantized else torch.float32
            common_params, y_hat = common_params.to(dtype), y_hat.to(dtype)
        inputs = torch.cat([common_params, y_hat], dim=1) if step else common_params
        outputs = network.coding(inputs) if coding else network(inputs)
        positions, means = outputs.chunk(2, dim=1)
        return _gather(positions, step), _gather(means, step)

    def _check_shapes(self, shape: torch.Size, common_params: torch.Tensor) -> None:
        batch, channels, height, width = shape
        if channels != self.channels or height % 2 or width % 2:
            raise ValueError(f"y must have {self.channels} channels and even H and W, got {tuple(shape)}")
        if common_params.shape[0] != batch or common_params.shape[2:] != shape[2:]:
            raise ValueError(f"common_params {tuple(common_params.shape)} does not match y {tuple(shape)}")


def _gather(full: torch.Tensor, step: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H/2, W/2): each group's channels at its phase of ``step``."""
    pieces = []
    for index, group in enumerate(full.chunk(GROUPS, dim=1)):
        row, column = step_phase(index, step)
        pieces.append(group[:, :, row::2, column::2])
    return torch.cat(pieces, dim=1)


def _scatter(full: torch.Tensor, subset: torch.Tensor, step: int) -> torch.Tensor:
    """A copy of ``full`` with ``subset`` (from :func:`_gather`'s layout) put back in place.

    Out of place, so autograd keeps every earlier step's tensor intact.
    """
    updated = full.clone()
    width = full.shape[1] // GROUPS
    for index, values in enumerate(subset.chunk(GROUPS, dim=1)):
        row, column = step_phase(index, step)
        updated[:, index * width:(index + 1) * width, row::2, column::2] = values
    return updated


@reproducible_inference()
def compress_with_hyperprior(z_codec: FactorizedLatentCodec, y_codec: QuadtreeContextCodec, z: torch.Tensor,
                             y: torch.Tensor, common_params: Callable[[torch.Tensor], torch.Tensor],
                             stream: str, quality_index: int | None = None) -> tuple[torch.Tensor, dict[str, bytes]]:
    """A hyper-latent ``z`` and the latent ``y`` it conditions, as the sub-streams ``stream`` (and
    ``stream_1``, ``stream_2``, ... when ``y`` is cut into row bands, :mod:`cmfr_codec.entropy.bands`).

    ``common_params(z_hat)`` gives the quadtree's parameters.  Each band holds its rows of the four
    steps; band 0 also holds ``z``, pushed last so that the decoder pops it first, computes the
    parameters, then pops ``y``.  One stream for ``z`` and ``y`` instead of two saves a stream's ANS
    tail and directory entry.  ``quality_index`` picks ``z``'s density band.  Returns (``y_hat``, the
    sub-streams).
    """
    z_hat, z_symbols = z_codec.quantize(z)
    y_hat, coded = y_codec.quantize(y, common_params(z_hat))
    rows = coded[0][1].shape[-2]
    count = band_count(rows, sum(int(np.count_nonzero(symbols)) for _, symbols, _ in coded))
    bands = [[StepBand(codec.distribution, codec.skip_below_index, symbols[..., band, :], indices[..., band, :])
              for codec, symbols, indices in coded] for band in band_rows(rows, count)]
    data = encode_bands(bands, worker_count())
    coder = open_coder(data[0])
    z_codec.push(coder, z_symbols, quality_index)
    data[0] = coder_bytes(coder)
    return y_hat, {band_stream_name(stream, band): band_data for band, band_data in enumerate(data)}


@reproducible_inference()
def decompress_with_hyperprior(z_codec: FactorizedLatentCodec, y_codec: QuadtreeContextCodec,
                               streams: dict[str, bytes], stream: str, z_size: tuple[int, int],
                               common_params: Callable[[torch.Tensor], torch.Tensor],
                               quality_index: int | None = None) -> torch.Tensor:
    """``y_hat`` from the sub-streams :func:`compress_with_hyperprior` made (with the same ``quality_index``)."""
    coder = open_coder(streams[stream])
    params = common_params(z_codec.pop(coder, z_size, quality_index))
    rows = params.shape[-2] // 2
    count = coded_band_count(streams, stream, rows)
    bands = BandDecoder(coder, [streams[band_stream_name(stream, band)] for band in range(1, count)], worker_count())
    y_hat = y_codec.pop_bands(bands, band_rows(rows, count), params)
    bands.finish()
    return y_hat
