"""The intra (I-frame) codec: a hyperprior transform codec with a quadtree context model.

::

    x (B, 6, h, w) half-resolution YUV 4:2:0, values in [0, 1]
      | pad bottom/right to a multiple of 32 (replicate)
      v
    analysis: 3 x (ResidualBlockWithStride /2 + DepthwiseBlocks), conv3x3   -> y at 1/16 luma
      | / q_enc(quality_index)                       (per-channel step: coarser at low quality)
      v
    y --hyper analysis (2 x /2)--> z --FactorizedLatentCodec--> z_hat
    |                                                            |
    |                               integer hyper synthesis (2 x up) -> common params
    v                                                            v
    y --QuadtreeContextCodec(common params)----------------------+--> y_hat     stream "frame" (with z)
      | * q_dec(quality_index)
      v
    synthesis: conv3x3 + 2 x (ResidualBlockUpsample x2 + DepthwiseBlocks),
               subpixel_conv3x3 x2                                         -> feature at 1/2 luma
      | feature + UNet(feature)                                   (refinement at full detail)
      v
    feature --conv3x3--> x_hat, cropped back to (h, w)

The refined half-resolution ``feature`` is returned with ``x_hat``. The pipelines start the first
P-frame after an I-frame from the decoded frame alone (the inter codec's feature adaptor, as in
DCVC-DC), so the buffer does not depend on which codec made the reference.

Latent sizes: the half-resolution input is divided by 8 for ``y`` (1/16 of luma, even, as the
quadtree's 2x2 phases need) and by 32 for ``z`` (1/64 of luma); padding to 32 makes both exact.

The last up-step is a plain sub-pixel conv, not a residual block: at half resolution a
:class:`ResidualBlockUpsample` costs two sub-pixel convs plus a 3x3 conv per pixel, a third of
the small model's budget, and the UNet that follows does the full-detail work anyway.

``compress`` builds ``x_hat`` from the very ``y_hat`` the decoder rebuilds, through the same
:meth:`IntraCodec._decode` as ``decompress``, so in one process both return identical tensors.
Another process with another thread count rebuilds the same ``y_hat`` exactly, but torch's CPU
convolutions may then sum in another order: its floats can differ in the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cmfr_codec.determinism import reproducible_inference
from cmfr_codec.models.config import IntraConfig
from cmfr_codec.models.integer import integer_hyper_synthesis
from cmfr_codec.models.latent_codecs import (
    FactorizedLatentCodec,
    QuadtreeContextCodec,
    Quantization,
    compress_with_hyperprior,
    decompress_with_hyperprior,
)
from cmfr_codec.models.layers import (
    FRAME_CHANNELS,
    LUMA_PHASES,
    DepthwiseBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    UNet,
    conv3x3,
    crop_to,
    pad_to_multiple,
    subpixel_conv3x3,
)
from cmfr_codec.models.quality import QualityScales

FRAME_STREAM = "frame"
"""The one sub-stream of an I-frame: z and y share one ANS stream."""

PADDING_MULTIPLE = 32
"""Half-resolution size multiple: three /2 steps to y, two more to z."""


@dataclass
class IntraDecoded:
    """What the decoder of an I-frame produces, both cropped to the input's (h, w).

    ``x_hat`` (1, 6, h, w) is the reconstructed frame; ``feature`` (1, feature_channels, h, w)
    is the decoder's last feature before the output projection; ``latent`` is the decoded
    latent in coded units (symbols plus means, before the decoder step), the same on every
    device (docs/determinism.md).
    """

    x_hat: torch.Tensor
    feature: torch.Tensor
    latent: torch.Tensor


@dataclass
class IntraOutput:
    """The training path's result.

    ``likelihoods`` maps "y" and "z" to per-element likelihoods in (0, 1]; ``bits`` is
    ``-log2`` of all of them together (a scalar, summed over the batch) and ``bpp`` the bits
    per luma pixel per frame of the original (unpadded) size.
    """

    x_hat: torch.Tensor
    feature: torch.Tensor
    likelihoods: dict[str, torch.Tensor]
    bits: torch.Tensor
    bpp: torch.Tensor


def _blocks(channels: int, count: int) -> list[nn.Module]:
    return [DepthwiseBlock(channels) for _ in range(count)]


class IntraCodec(nn.Module):
    """I-frame codec built from an :class:`IntraConfig`; see the module docstring for the data flow."""

    def __init__(self, config: IntraConfig) -> None:
        super().__init__()
        self.config = config
        c1, c2, c3 = config.transform_channels
        latent, hyper, blocks = config.latent_channels, config.hyper_channels, config.blocks_per_stage
        self.analysis = nn.Sequential(
            ResidualBlockWithStride(FRAME_CHANNELS, c1), *_blocks(c1, blocks),
            ResidualBlockWithStride(c1, c2), *_blocks(c2, blocks),
            ResidualBlockWithStride(c2, c3), *_blocks(c3, blocks),
            conv3x3(c3, latent),
        )
        self.hyper_analysis = nn.Sequential(
            ResidualBlockWithStride(latent, hyper),
            ResidualBlockWithStride(hyper, hyper),
        )
        self.hyper_synthesis = integer_hyper_synthesis(hyper, latent, config.integer_entropy)
        self.z_codec = FactorizedLatentCodec(hyper, name="z", density_bands=config.density_bands)
        self.y_codec = QuadtreeContextCodec(latent, latent, distribution=config.distribution,
                                            skip_below_index=config.skip_below_index, name="y",
                                            quantized=config.integer_entropy)
        self.encoder_steps = QualityScales(latent)
        self.decoder_steps = QualityScales(latent)
        self.synthesis = nn.Sequential(
            conv3x3(latent, c3), *_blocks(c3, blocks),
            ResidualBlockUpsample(c3, c2), *_blocks(c2, blocks),
            ResidualBlockUpsample(c2, c1), *_blocks(c1, blocks),
            subpixel_conv3x3(c1, config.feature_channels, 2),
        )
        self.refinement = UNet(config.feature_channels, config.feature_channels, config.unet_channels,
                               blocks_per_stage=blocks)
        self.projection = conv3x3(config.feature_channels, FRAME_CHANNELS)

    def forward(self, x: torch.Tensor, quality_index: int | float | torch.Tensor,
                quantization: Quantization = "noise") -> IntraOutput:
        """Training path: ``x`` (B, 6, h, w) -> reconstruction, likelihoods and rate.

        ``quality_index`` is one index for the batch or a (B,) tensor of (fractional) indices.
        """
        height, width = self._check_frame(x)
        return self._from_latent(self._analyse(x, quality_index), quality_index, quantization, height, width)

    def _from_latent(self, y: torch.Tensor, quality_index: int | float | torch.Tensor, quantization: Quantization,
                     height: int, width: int) -> IntraOutput:
        """The training path after the analysis: the latent ``y`` (B, C, ...) of ``height`` x ``width`` frames."""
        z_hat, z_likelihoods = self.z_codec(self.hyper_analysis(y), quantization, quality_index)
        y_hat, y_likelihoods = self.y_codec(y, self.hyper_synthesis(z_hat), quantization)
        decoded = self._decode(y_hat, quality_index, height, width)
        bits = -(y_likelihoods.log2().sum() + z_likelihoods.log2().sum())
        luma_pixels = y.shape[0] * LUMA_PHASES * height * width
        return IntraOutput(decoded.x_hat, decoded.feature, {"y": y_likelihoods, "z": z_likelihoods},
                           bits, bits / luma_pixels)

    @reproducible_inference()
    def compress(self, x: torch.Tensor, quality_index: int) -> tuple[IntraDecoded, dict[str, bytes]]:
        """``x`` (1, 6, h, w) -> (the decoder's exact reconstruction, stream "frame")."""
        height, width = self._check_frame(x)
        if x.shape[0] != 1:
            raise ValueError(f"compress codes one frame: x must be (1, 6, h, w), got {tuple(x.shape)}")
        y = self._analyse(x, quality_index)
        y_hat, streams = compress_with_hyperprior(self.z_codec, self.y_codec, self.hyper_analysis(y), y,
                                                  self.hyper_synthesis.coding, FRAME_STREAM, quality_index)
        return self._decode(y_hat, quality_index, height, width), streams

    @reproducible_inference()
    def decompress(self, streams: dict[str, bytes], quality_index: int, height: int, width: int) -> IntraDecoded:
        """Streams from :meth:`compress` and the half-resolution ``height`` x ``width`` -> reconstruction."""
        padded_height = height + -height % PADDING_MULTIPLE
        padded_width = width + -width % PADDING_MULTIPLE
        z_size = (padded_height // PADDING_MULTIPLE, padded_width // PADDING_MULTIPLE)
        y_hat = decompress_with_hyperprior(self.z_codec, self.y_codec, streams, FRAME_STREAM, z_size,
                                           self.hyper_synthesis.coding, quality_index)
        return self._decode(y_hat, quality_index, height, width)

    def update_tables(self) -> None:
        """Rebuild the hyper-latent's integer CDF tables: call after training, before saving weights."""
        self.z_codec.update_tables()

    def _analyse(self, x: torch.Tensor, quality_index: int | float | torch.Tensor) -> torch.Tensor:
        padded, _ = pad_to_multiple(x, PADDING_MULTIPLE)
        return self.analysis(padded) / self.encoder_steps(quality_index)

    def _decode(self, y_hat: torch.Tensor, quality_index: int | float | torch.Tensor,
                height: int, width: int) -> IntraDecoded:
        """The decoder side after entropy decoding, shared by all three paths."""
        feature = self.synthesis(y_hat * self.decoder_steps(quality_index))
        feature = feature + self.refinement(feature)
        x_hat = self.projection(feature)
        return IntraDecoded(crop_to(x_hat, height, width), crop_to(feature, height, width), y_hat)

    @staticmethod
    def _check_frame(x: torch.Tensor) -> tuple[int, int]:
        if x.dim() != 4 or x.shape[1] != FRAME_CHANNELS:
            raise ValueError(f"x must be (B, {FRAME_CHANNELS}, h, w), got {tuple(x.shape)}")
        return x.shape[-2], x.shape[-1]
