"""The inter (P-frame) codec: DCVC-DC-style conditional coding with the three CMFR methods.

Every tensor lives on the padded half-resolution grid (h, w multiples of ``PADDING_MULTIPLE``):
the caller pads a sequence once and keeps the decoded picture buffer (DPB) on that grid, so
this module never pads or crops.  Sizes below are relative to that grid::

    x_t, dpb.frame --SpyNetFlow--> flow v (2, 1)                                   (encoder only)
    v, motion context --motion encoder (/8)--> motion latent
        --TemporalHyperpriorCodec (prior: dpb.motion_latent)--> m_hat    stream "motion"
    m_hat, motion context --motion decoder--> v_hat (2, 1), motion feature (1)
    v' = MotionRefiner(v_hat, dpb.frame, motion feature)                   [motion_refiner; else v' = v_hat]
    reference F = dpb.feature, or feature_adaptor(dpb.frame) right after an I-frame
    F, v', guide warp(dpb.frame, v') --TemporalContexts--> C1 (1), C2 (1/2), C3 (1/4)
    P = predictor(C1),  m = sigmoid(mask_net([C1, P]))                                [feature_residual]
    encoder input: R = E(x_t) - m * P                              (flag off: E(x_t), plain conditional)
    R, C1..C3 --ContextualEncoder (SFF)--> y (1/8)
        --TemporalHyperpriorCodec (prior: dpb.latent)--> y_hat                     stream "frame"
    y_hat, C3..C1 --ContextualDecoder (SFF)--> R_hat;  F_hat = R_hat + m * P        (flag off: F_hat = output)
    G = F_hat + UNet([F_hat, C1]);  x_hat = conv3x3(G)
    next DPB: frame x_hat, feature F_hat (flag off: G), motion feature, latent y_hat, motion latent m_hat

The frame is generated directly, not as a residual over ``warp(dpb.frame, v')``: as in DCVC-DC,
the contexts carry the prediction, and the generator decides per pixel how much to trust it.
With ``feature_residual`` the DPB keeps the *reconstructed* feature F_hat (the CMFR point:
reconstructed features, rich in temporal information, become the next reference); without
it, the generator's last feature G, as DCVC-DC keeps its frame generator's feature.

The motion context is ``conv3x3 /2`` of the previous motion decoder feature (zeros when the DPB
has none); both the motion encoder and the motion decoder fuse it at 1/2.  ``forward`` leaves
the DPB attached to the graph, so a cascaded training loss over several frames reaches earlier
frames; detach it to stop that.

Entropy parameters (``integer_entropy``, the default): every value that selects a coding table
is computed by :class:`~cmfr_codec.models.integer.IntegerNetwork` s from exact inputs only, so a
stream decodes identically on any device (docs/determinism.md).  That is why the latents in the
DPB are kept in *coded* units (``y_s_hat`` = symbols + means, exact), and why the frame latent's
temporal prior is the previous coded latent alone: the motion-compensated context C3, which
DCVC-DC also feeds to this prior, comes from float warping and may differ in its last bits
between devices.  With ``integer_entropy`` off (the float path, for measuring what exactness
costs) the prior networks are plain float convolutions and C3 joins the prior.

``compress`` and ``decompress`` run the same decoder-side methods (:meth:`InterCodec._conditions`,
:meth:`InterCodec._reconstruct`) on the same decoded latents, so in one process they return
identical tensors, and under :func:`reproducible_inference` another process with another thread
count does too (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from cmfr_codec.determinism import reproducible_inference
from cmfr_codec.models import stripes
from cmfr_codec.models.config import InterConfig
from cmfr_codec.models.contexts import (
    Contexts,
    ContextualDecoder,
    ContextualEncoder,
    TemporalContexts,
    blocks,
)
from cmfr_codec.models.dpb import DecodedPictureBuffer
from cmfr_codec.models.integer import (
    IntegerConv2d,
    IntegerLeakyReLU,
    IntegerNetwork,
    integer_hyper_synthesis,
)
from cmfr_codec.models.intra import FRAME_STREAM
from cmfr_codec.models.latent_codecs import (
    FactorizedLatentCodec,
    QuadtreeContextCodec,
    QualityIndex,
    Quantization,
    compress_with_hyperprior,
    decompress_with_hyperprior,
)
from cmfr_codec.models.layers import (
    FRAME_CHANNELS,
    LUMA_PHASES,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    UNet,
    after_sum,
    conv1x1,
    conv3x3,
    subpixel_conv3x3,
)
from cmfr_codec.models.motion import MotionRefiner, SpyNetFlow, warp
from cmfr_codec.models.quality import QualityScales

MOTION_STREAM = "motion"
"""A P-frame's two sub-streams: the motion latent (with its hyper-latent), then the frame latent
under the same name as an I-frame's, :data:`~cmfr_codec.models.intra.FRAME_STREAM`."""

PADDING_MULTIPLE = 32
"""Half-resolution size multiple: three /2 steps to a latent, two more to its hyper-latent."""

LATENT_STRIDE = 8
"""Both latents (motion and frame) are at 1/8 of the half-resolution grid, hyper-latents at 1/32."""


@dataclass
class InterDecoded:
    """What the decoder of a P-frame produces: ``x_hat`` (1, 6, h, w) and the DPB for the next frame."""

    x_hat: torch.Tensor
    dpb: DecodedPictureBuffer


@dataclass
class InterOutput:
    """The training path's result.

    ``likelihoods`` maps "motion_y", "motion_z", "y" and "z" to per-element likelihoods;
    ``bits`` is ``-log2`` of all of them (a scalar, summed over the batch) and ``bpp`` the bits
    per luma pixel per frame of the padded grid (4 h w luma pixels).  ``flow`` is the flow the
    contexts were made with (decoded and, with the refiner, refined) and ``warped`` is
    ``warp(dpb.frame, flow)``, for the motion stages' auxiliary warping loss.  ``estimated_flow``
    is the flow estimator's output before motion coding, for distilling a teacher's flow into it.
    """

    x_hat: torch.Tensor
    dpb: DecodedPictureBuffer
    likelihoods: dict[str, torch.Tensor]
    bits: torch.Tensor
    bpp: torch.Tensor
    warped: torch.Tensor
    flow: torch.Tensor
    estimated_flow: torch.Tensor


class DecodedLatent(NamedTuple):
    """A decoded latent twice: ``values`` (dequantised, ``y_s_hat * step``) for the networks after
    it, and ``coded`` (``y_s_hat`` = symbols + means, exact multiples of 1/256) for the next
    frame's temporal prior, which must see exact values on every device."""

    values: torch.Tensor
    coded: torch.Tensor


class TemporalHyperpriorCodec(nn.Module):
    """One latent with a hyperprior and a temporal prior, coded at a quality index.

    ::

        y --/ encoder step(q)--> y_s --hyper analysis (2 x /2)--> z --FactorizedLatentCodec--> z_hat
                                  |                              integer hyper synthesis (2 x up)
                                  |                                               |
                                  |      temporal prior (caller, at y's grid) --[ , ]-- integer prior fusion
                                  v                                               v
        y_s --QuadtreeContextCodec(common params)--> y_s_hat       z and y share one stream, ``stream``
        y_hat = y_s_hat * decoder step(q)

    Everything from ``z_hat`` and the temporal prior to the table indices is an
    :class:`IntegerNetwork` (exact on any device when ``quantized``); the caller's temporal
    prior on the coding paths must be an integer network's :meth:`IntegerNetwork.coding`
    output.  The three methods return a :class:`DecodedLatent`.
    """

    def __init__(self, latent_channels: int, hyper_channels: int, prior_channels: int, distribution: str,
                 skip_below_index: int, prefix: str, stream: str, quantized: bool = True,
                 density_bands: int = 1) -> None:
        super().__init__()
        self.prefix = prefix
        self.stream = stream
        self.hyper_analysis = nn.Sequential(
            ResidualBlockWithStride(latent_channels, hyper_channels),
            ResidualBlockWithStride(hyper_channels, hyper_channels),
        )
        self.hyper_synthesis = integer_hyper_synthesis(hyper_channels, latent_channels, quantized)
        # Pointwise: the quadtree's parameter networks that follow give the spatial view.
        self.prior_fusion = IntegerNetwork(
            IntegerConv2d(latent_channels + prior_channels, 2 * latent_channels, quantized=quantized),
            IntegerLeakyReLU(quantized),
            IntegerConv2d(2 * latent_channels, latent_channels, quantized=quantized),
        )
        self.z_codec = FactorizedLatentCodec(hyper_channels, name=f"{prefix}z", density_bands=density_bands)
        self.y_codec = QuadtreeContextCodec(latent_channels, latent_channels, distribution=distribution,
                                            skip_below_index=skip_below_index, name=f"{prefix}y",
                                            quantized=quantized)
        self.encoder_steps = QualityScales(latent_channels)
        self.decoder_steps = QualityScales(latent_channels)

    def forward(self, y: torch.Tensor, temporal_prior: torch.Tensor, quality_index: QualityIndex,
                quantization: Quantization = "noise") -> tuple[DecodedLatent, dict[str, torch.Tensor]]:
        """Training: -> the decoded latent and likelihoods ``{"{prefix}y": ..., "{prefix}z": ...}``."""
        scaled = y / self.encoder_steps(quality_index)
        z_hat, z_likelihoods = self.z_codec(self.hyper_analysis(scaled), quantization, quality_index)
        common_params = self.prior_fusion(torch.cat([self.hyper_synthesis(z_hat), temporal_prior], dim=1))
        y_hat, y_likelihoods = self.y_codec(scaled, common_params, quantization)
        return (DecodedLatent(y_hat * self.decoder_steps(quality_index), y_hat),
                {f"{self.prefix}y": y_likelihoods, f"{self.prefix}z": z_likelihoods})

    def compress(self, y: torch.Tensor, temporal_prior: torch.Tensor,
                 quality_index: int) -> tuple[DecodedLatent, dict[str, bytes]]:
        """``y`` (1, C, H, W) -> (the decoder's exact latent, ``{stream: bytes}`` holding z and y)."""
        scaled = y / self.encoder_steps(quality_index)
        y_hat, streams = compress_with_hyperprior(self.z_codec, self.y_codec, self.hyper_analysis(scaled), scaled,
                                                  lambda z_hat: self._coding_params(z_hat, temporal_prior), self.stream,
                                                  quality_index)
        return DecodedLatent(y_hat * self.decoder_steps(quality_index), y_hat), streams

    def decompress(self, streams: dict[str, bytes], temporal_prior: torch.Tensor,
                   quality_index: int) -> DecodedLatent:
        """The stream and the same ``temporal_prior`` (1, P, H, W) -> the decoded latent."""
        height, width = temporal_prior.shape[-2:]
        y_hat = decompress_with_hyperprior(self.z_codec, self.y_codec, streams, self.stream, (height // 4, width // 4),
                                           lambda z_hat: self._coding_params(z_hat, temporal_prior), quality_index)
        return DecodedLatent(y_hat * self.decoder_steps(quality_index), y_hat)

    def _coding_params(self, z_hat: torch.Tensor, temporal_prior: torch.Tensor) -> torch.Tensor:
        hyper = self.hyper_synthesis.coding(z_hat)
        return self.prior_fusion.coding(torch.cat([hyper, temporal_prior.to(hyper.dtype)], dim=1))


def _temporal_prior_network(channels: int, quantized: bool) -> IntegerNetwork:
    """The previous frame's coded latent -> a temporal prior for this frame's latent (3x3, 3x3)."""
    return IntegerNetwork(
        IntegerConv2d(channels, channels, 3, quantized=quantized), IntegerLeakyReLU(quantized),
        IntegerConv2d(channels, channels, 3, quantized=quantized),
    )


class MotionEncoder(nn.Module):
    """flow (N, 2, H, W) and motion context (N, channels, H/2, W/2) -> motion latent (N, latent, H/8, W/8)."""

    def __init__(self, channels: int, latent_channels: int, blocks_per_stage: int) -> None:
        super().__init__()
        self.down1 = ResidualBlockWithStride(2, channels)
        self.condition = conv1x1(2 * channels, channels)
        self.stage1 = blocks(channels, blocks_per_stage)
        self.down2 = ResidualBlockWithStride(channels, channels)
        self.stage2 = blocks(channels, blocks_per_stage)
        self.to_latent = conv3x3(channels, latent_channels, stride=2)

    def forward(self, flow: torch.Tensor, motion_context: torch.Tensor) -> torch.Tensor:
        h = self.condition(torch.cat([self.down1(flow), motion_context], dim=1))
        return self.to_latent(self.stage2(self.down2(self.stage1(h))))


class MotionDecoder(nn.Module):
    """motion latent (N, latent, H/8, W/8) and motion context -> flow (N, 2, H, W), feature (N, feature, H, W)."""

    def __init__(self, latent_channels: int, channels: int, feature_channels: int, blocks_per_stage: int) -> None:
        super().__init__()
        self.up3 = ResidualBlockUpsample(latent_channels, channels)
        self.stage3 = blocks(channels, blocks_per_stage)
        self.up2 = ResidualBlockUpsample(channels, channels)
        self.condition = conv1x1(2 * channels, channels)
        self.stage2 = blocks(channels, blocks_per_stage)
        self.up1 = subpixel_conv3x3(channels, feature_channels, 2)
        self.to_flow = conv3x3(feature_channels, 2)

    def forward(self, latent: torch.Tensor, motion_context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.up2(self.stage3(self.up3(latent)))
        h = self.stage2(self.condition(torch.cat([h, motion_context], dim=1)))
        feature = self.up1(h)
        return self.to_flow(F.leaky_relu(feature, 0.1)), feature


@dataclass
class _Conditions:
    """Everything decoder-side that the frame latent is coded with, computed once per frame.

    ``motion_latent`` is the motion latent in coded units (for the next frame's DPB).
    """

    flow: torch.Tensor
    warped: torch.Tensor
    motion_feature: torch.Tensor
    motion_latent: torch.Tensor
    contexts: Contexts
    masked_prediction: torch.Tensor | None
    latent_prior: torch.Tensor


class InterCodec(nn.Module):
    """P-frame codec built from an :class:`InterConfig`; see the module docstring for the data flow."""

    def __init__(self, config: InterConfig) -> None:
        super().__init__()
        self.config = config
        feature = config.feature_channels
        motion, motion_latent = config.motion_transform_channels, config.motion_latent_channels
        motion_feature = config.motion_feature_channels
        c1, _, c3 = config.context_channels
        latent, stages = config.latent_channels, config.blocks_per_stage

        self.flow_estimator = SpyNetFlow(FRAME_CHANNELS, config.flow_levels, config.flow_channels,
                                         config.flow_cost_radius)
        self.motion_context = conv3x3(motion_feature, motion, stride=2)
        self.motion_encoder = MotionEncoder(motion, motion_latent, stages)
        quantized = config.integer_entropy
        self.motion_prior = _temporal_prior_network(motion_latent, quantized)
        self.motion_codec = TemporalHyperpriorCodec(motion_latent, config.motion_hyper_channels, motion_latent,
                                                    config.distribution, config.skip_below_index, "motion_",
                                                    stream=MOTION_STREAM, quantized=quantized,
                                                    density_bands=config.density_bands)
        self.motion_decoder = MotionDecoder(motion_latent, motion, motion_feature, stages)
        self.motion_refiner = (MotionRefiner(config.refiner_channels, motion_feature, blocks=stages)
                               if config.motion_refiner else None)

        self.feature_adaptor = conv3x3(FRAME_CHANNELS, feature)
        self.temporal_contexts = TemporalContexts(feature, config.context_channels, config.alignment_groups,
                                                  FRAME_CHANNELS, stages)
        self.feature_extractor = nn.Sequential(conv3x3(FRAME_CHANNELS, feature), *blocks(feature, stages))
        if config.feature_residual:
            self.feature_predictor = nn.Sequential(conv3x3(c1, feature), *blocks(feature, stages))
            self.mask_network = nn.Sequential(
                conv3x3(c1 + feature, feature), nn.LeakyReLU(0.1), conv3x3(feature, feature),
            )
        self.contextual_encoder = ContextualEncoder(feature, config.context_channels, config.transform_channels,
                                                    latent, stages, config.sff)
        self.latent_prior = _temporal_prior_network(latent, quantized)
        # The float path may also condition on the motion-compensated context C3; the integer
        # path may not: C3 comes from float warping, whose last bits differ between devices.
        self.context_prior = None if quantized else ResidualBlockWithStride(c3, latent)
        self.latent_codec = TemporalHyperpriorCodec(latent, config.hyper_channels, latent if quantized else 2 * latent,
                                                    config.distribution, config.skip_below_index, "",
                                                    stream=FRAME_STREAM, quantized=quantized,
                                                    density_bands=config.density_bands)
        self.contextual_decoder = ContextualDecoder(latent, config.context_channels, config.transform_channels,
                                                    feature, stages, config.sff)
        self.frame_generator = UNet(feature + c1, feature, config.unet_channels, blocks_per_stage=stages)
        self.projection = conv3x3(feature, FRAME_CHANNELS)

    def forward(self, x: torch.Tensor, dpb: DecodedPictureBuffer, quality_index: QualityIndex,
                quantization: Quantization = "noise", flow: torch.Tensor | None = None) -> InterOutput:
        """Training path: ``x`` (B, 6, h, w) and a DPB of batch B -> reconstruction, next DPB, rate.

        ``quality_index`` is one index for the batch or a (B,) tensor of (fractional) indices.
        ``flow`` (B, 2, h, w), if given, is motion-coded in place of the flow estimator's output
        (and reported as ``estimated_flow``): the motion stage's teacher forcing, and
        benchmarks/motion_check.py's test of a motion coder apart from its estimator.
        """
        self._check_frame(x, dpb)
        motion_context = self._motion_context(dpb)
        estimated_flow = self.flow_estimator(x, dpb.frame) if flow is None else flow
        motion_y = self.motion_encoder(estimated_flow, motion_context)
        motion_latent, likelihoods = self.motion_codec(motion_y, self._motion_prior(dpb, coding=False),
                                                       quality_index, quantization)
        conditions = self._conditions(motion_latent, motion_context, dpb, coding=False)
        latent, frame_likelihoods = self.latent_codec(self._analyse(x, conditions), conditions.latent_prior,
                                                      quality_index, quantization)
        likelihoods.update(frame_likelihoods)
        decoded = self._reconstruct(latent, conditions)
        bits = -sum(values.log2().sum() for values in likelihoods.values())
        luma_pixels = x.shape[0] * LUMA_PHASES * x.shape[-2] * x.shape[-1]
        return InterOutput(decoded.x_hat, decoded.dpb, likelihoods, bits, bits / luma_pixels,
                           conditions.warped, conditions.flow, estimated_flow)

    @reproducible_inference()
    def compress(self, x: torch.Tensor, dpb: DecodedPictureBuffer,
                 quality_index: int) -> tuple[InterDecoded, dict[str, bytes]]:
        """``x`` (1, 6, h, w) -> (the decoder's exact reconstruction and next DPB, streams
        "motion", "frame")."""
        self._check_frame(x, dpb)
        if x.shape[0] != 1:
            raise ValueError(f"compress codes one frame: x must be (1, 6, h, w), got {tuple(x.shape)}")
        motion_context = self._motion_context(dpb)
        motion_y = self.motion_encoder(self.flow_estimator(x, dpb.frame), motion_context)
        motion_latent, streams = self.motion_codec.compress(motion_y, self._motion_prior(dpb, coding=True),
                                                            quality_index)
        conditions = self._conditions(motion_latent, motion_context, dpb, coding=True)
        latent, frame_streams = self.latent_codec.compress(self._analyse(x, conditions), conditions.latent_prior,
                                                           quality_index)
        streams.update(frame_streams)
        return self._reconstruct(latent, conditions), streams

    @reproducible_inference()
    def decompress(self, streams: dict[str, bytes], dpb: DecodedPictureBuffer, quality_index: int) -> InterDecoded:
        """Streams from :meth:`compress` and the same DPB (batch 1) -> reconstruction and next DPB."""
        self._check_frame(dpb.frame, dpb)
        motion_context = self._motion_context(dpb)
        motion_latent = self.motion_codec.decompress(streams, self._motion_prior(dpb, coding=True), quality_index)
        conditions = self._conditions(motion_latent, motion_context, dpb, coding=True)
        latent = self.latent_codec.decompress(streams, conditions.latent_prior, quality_index)
        return self._reconstruct(latent, conditions)

    def update_tables(self) -> None:
        """Rebuild both hyper-latents' integer CDF tables: call after training, before saving weights."""
        self.motion_codec.z_codec.update_tables()
        self.latent_codec.z_codec.update_tables()

    def _motion_context(self, dpb: DecodedPictureBuffer) -> torch.Tensor:
        previous = dpb.motion_feature
        if previous is None:
            frame = dpb.frame
            previous = frame.new_zeros(frame.shape[0], self.config.motion_feature_channels, *frame.shape[-2:])
        return self.motion_context(previous)

    def _motion_prior(self, dpb: DecodedPictureBuffer, coding: bool) -> torch.Tensor:
        previous = self._previous_latent(dpb.motion_latent, self.config.motion_latent_channels, dpb)
        return self.motion_prior.coding(previous) if coding else self.motion_prior(previous)

    @staticmethod
    def _previous_latent(latent: torch.Tensor | None, channels: int, dpb: DecodedPictureBuffer) -> torch.Tensor:
        if latent is not None:
            return latent
        frame = dpb.frame
        return frame.new_zeros(frame.shape[0], channels, frame.shape[-2] // LATENT_STRIDE,
                               frame.shape[-1] // LATENT_STRIDE)

    def _conditions(self, motion_latent: DecodedLatent, motion_context: torch.Tensor,
                    dpb: DecodedPictureBuffer, coding: bool) -> _Conditions:
        """The decoder side from the decoded motion latent up to the frame latent's prior."""
        flow, motion_feature = self.motion_decoder(motion_latent.values, motion_context)
        if self.motion_refiner is not None:
            flow = self.motion_refiner(flow, dpb.frame, motion_feature)
        warped = warp(dpb.frame, flow)
        reference = dpb.feature if dpb.feature is not None else self.feature_adaptor(dpb.frame)
        contexts = self.temporal_contexts(reference, flow, warped)
        masked_prediction = self._masked_prediction(contexts[0]) if self.config.feature_residual else None
        previous_latent = self._previous_latent(dpb.latent, self.config.latent_channels, dpb)
        latent_prior = self.latent_prior.coding(previous_latent) if coding else self.latent_prior(previous_latent)
        if self.context_prior is not None:
            latent_prior = torch.cat([latent_prior, self.context_prior(contexts[2])], dim=1)
        return _Conditions(flow, warped, motion_feature, motion_latent.coded, contexts, masked_prediction,
                           latent_prior)

    def _masked_prediction(self, context1: torch.Tensor) -> torch.Tensor:
        """The CMFR feature prediction from C1 times its mask; in row stripes when coding on the CPU."""

        def block(context: torch.Tensor) -> torch.Tensor:
            prediction = self.feature_predictor(context)
            mask = torch.sigmoid(self.mask_network(torch.cat([context, prediction], dim=1)))
            return mask * prediction

        if stripes.active(context1):
            # conv3x3 and one 3x3 per block in the predictor, two conv3x3 in the mask network
            reach = 1 + (len(self.feature_predictor) - 1) + 2
            return stripes.rowwise(block, (context1,), reach=reach, out_channels=self.config.feature_channels)
        return block(context1)

    def _analyse(self, x: torch.Tensor, conditions: _Conditions) -> torch.Tensor:
        """Encoder side: the frame's feature (minus the masked prediction) -> the frame latent y."""
        feature = self.feature_extractor(x)
        if conditions.masked_prediction is not None:
            feature = feature - conditions.masked_prediction
        return self.contextual_encoder(feature, conditions.contexts)

    def _reconstruct(self, latent: DecodedLatent, conditions: _Conditions) -> InterDecoded:
        """The decoder side after the frame latent, shared by all three paths."""
        feature = self.contextual_decoder(latent.values, conditions.contexts)
        if conditions.masked_prediction is not None:
            feature = feature + conditions.masked_prediction
        refinement = self.frame_generator(feature, conditions.contexts[0])
        if conditions.masked_prediction is not None:  # CMFR: the feature itself is the next reference
            x_hat = after_sum(self.projection, 1, FRAME_CHANNELS, feature, refinement)
            reference = feature
        else:
            reference = feature + refinement
            x_hat = self.projection(reference)
        dpb = DecodedPictureBuffer(frame=x_hat, feature=reference, motion_feature=conditions.motion_feature,
                                   latent=latent.coded, motion_latent=conditions.motion_latent)
        return InterDecoded(x_hat, dpb)

    @staticmethod
    def _check_frame(x: torch.Tensor, dpb: DecodedPictureBuffer) -> None:
        if x.dim() != 4 or x.shape[1] != FRAME_CHANNELS:
            raise ValueError(f"x must be (B, {FRAME_CHANNELS}, h, w), got {tuple(x.shape)}")
        height, width = x.shape[-2:]
        if height % PADDING_MULTIPLE or width % PADDING_MULTIPLE:
            raise ValueError(f"x must be padded to a multiple of {PADDING_MULTIPLE} (half resolution), "
                             f"got {height}x{width}")
        if dpb.frame.shape != x.shape:
            raise ValueError(f"the DPB frame {tuple(dpb.frame.shape)} does not match x {tuple(x.shape)}")
