"""Model configuration as data: frozen dataclasses that a weights file carries as plain JSON.

A weights file stores the config it was trained with next to the state_dict, so a decoder
rebuilds exactly that network from the file alone::

    ModelConfig --to_dict()--> {"name": ..., "intra": {...}, "inter": {...}} --json--> weights file
    weights file --json--> dict --ModelConfig.from_dict()--> ModelConfig --> IntraCodec(config.intra)
                                                                          --> InterCodec(config.inter)

``from_dict`` is strict: an unknown key, a missing key without a default, or a value of the
wrong type raises ValueError naming the key (``intra.latent_channels``), because a silently
ignored or coerced field would build a different network than the one the weights belong to.

Presets are the configurations the project ships or tests with: :data:`CMFR_S` (the default,
sized for modest compute), :data:`CMFR_BASE` (DCVC-DC-like sizes) and :data:`TINY`
(a few channels, for fast tests).  :func:`preset` looks them up by name.

The sizes quoted next to the presets are measured with :mod:`cmfr_codec.models.complexity` on a
1080p frame (half resolution padded to 544x960); ``docs/models.md`` gives the commands.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from cmfr_codec.errors import ModelError
from cmfr_codec.models.quality import QUALITY_LEVELS

DISTRIBUTIONS = ("gaussian", "laplace")
"""Latent distributions the conditional entropy coder has tables for."""

LATENT_GROUPS = 4
"""The quadtree context model splits the latent into this many channel groups."""

ConfigT = TypeVar("ConfigT", bound="_Config")


class _Config:
    """Strict conversion between a frozen dataclass and a JSON-able dict (shared by every config)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of JSON types: tuples become lists, nested configs become dicts."""
        return {field.name: _to_plain(getattr(self, field.name)) for field in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[ConfigT], data: dict[str, Any]) -> ConfigT:
        """The config described by ``data``; ValueError naming the key for anything unexpected."""
        return _from_plain(cls, data, prefix="")


def _to_plain(value: Any) -> Any:
    if isinstance(value, _Config):
        return value.to_dict()
    if isinstance(value, tuple):
        return list(value)
    return value


def _from_plain(cls: type[ConfigT], data: Any, prefix: str) -> ConfigT:
    where = prefix.rstrip(".") or cls.__name__
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a dict, got {type(data).__name__}")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{prefix}{unknown[0]}: unknown key for {cls.__name__} (known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        key = prefix + name
        if name not in data:
            if field.default is dataclasses.MISSING:
                raise ValueError(f"{key}: missing")
            continue
        values[name] = _checked_value(data[name], hints[name], key)
    return cls(**values)


def _checked_value(value: Any, expected: Any, key: str) -> Any:
    """``value`` converted to the field type ``expected`` (int, bool, str, a tuple or a config).

    Tuples are fixed-length (``tuple[int, int, int]``) or variable-length (``tuple[int, ...]``);
    JSON gives them as lists.  A bool field takes only ``true``/``false``, never 0 or 1.
    """
    if isinstance(expected, type) and issubclass(expected, _Config):
        return _from_plain(expected, value, prefix=key + ".")
    if typing.get_origin(expected) is tuple:
        item_types = typing.get_args(expected)
        if len(item_types) == 2 and item_types[1] is Ellipsis:
            if not isinstance(value, list | tuple):
                raise ValueError(f"{key}: expected a list of values, got {value!r}")
            item_types = (item_types[0],) * len(value)
        if not isinstance(value, list | tuple) or len(value) != len(item_types):
            raise ValueError(f"{key}: expected a list of {len(item_types)} values, got {value!r}")
        return tuple(_checked_value(item, item_type, key) for item, item_type in zip(value, item_types, strict=True))
    # bool is an int subclass; True as a channel count is a mistake, not a 1.  (The other way
    # round needs no rule: 1 is not an instance of bool.)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ValueError(f"{key}: expected {expected.__name__}, got {type(value).__name__} {value!r}")
    return value


DENSITY_BANDS = 8
"""Hyper-latent density bands of the presets: one factorized density per channel for each eighth of the
quality range (1 in the weights trained before bands existed, whose files do not name the field)."""


def _check_density_bands(bands: int) -> None:
    if not 1 <= bands <= QUALITY_LEVELS:
        raise ValueError(f"density_bands: must be 1..{QUALITY_LEVELS}, got {bands}")


@dataclass(frozen=True)
class IntraConfig(_Config):
    """Sizes of the intra (I-frame) codec, :class:`cmfr_codec.models.intra.IntraCodec`.

    Resolutions below are relative to luma; the network sees the half-resolution 6-channel frame::

        frame (6, 1/2) -analysis-> transform_channels at 1/4, 1/8, 1/16 -> y (latent_channels, 1/16)
        y -hyper analysis-> z (hyper_channels, 1/64) -hyper synthesis-> common params (latent_channels, 1/16)
        y_hat -synthesis (mirrors transform_channels)-> feature (feature_channels, 1/2)
        feature + UNet(feature; unet_channels) -> conv3x3 -> x_hat (6, 1/2)

    ``blocks_per_stage`` DepthwiseBlocks follow every analysis and synthesis stage and fill every
    UNet level.  ``distribution`` and ``skip_below_index`` are those of the latent's conditional
    coder; encoder and decoder must agree on both, which is why they are config, not options.
    ``integer_entropy`` computes every entropy parameter in exact fixed point
    (:mod:`cmfr_codec.models.integer`), so streams decode on any device; off, in float (the
    reference the integer path's rate cost is measured against).  ``density_bands``: the
    hyper-latent's factorized densities, one set per band of quality indices
    (:class:`cmfr_codec.models.latent_codecs.FactorizedLatentCodec`).
    """

    transform_channels: tuple[int, int, int]
    latent_channels: int
    hyper_channels: int
    feature_channels: int
    unet_channels: tuple[int, int, int]
    blocks_per_stage: int = 1
    distribution: str = "gaussian"
    skip_below_index: int = 0
    integer_entropy: bool = True
    flow_cost_radius: int = 0
    density_bands: int = 1

    def __post_init__(self) -> None:
        _check_density_bands(self.density_bands)
        counts = {
            "transform_channels": self.transform_channels,
            "unet_channels": self.unet_channels,
            "latent_channels": (self.latent_channels,),
            "hyper_channels": (self.hyper_channels,),
            "feature_channels": (self.feature_channels,),
            "blocks_per_stage": (self.blocks_per_stage,),
        }
        for name, values in counts.items():
            if any(value < 1 for value in values):
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)!r}")
        if self.latent_channels % LATENT_GROUPS:
            raise ValueError(f"latent_channels: must be a multiple of {LATENT_GROUPS}, got {self.latent_channels}")
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution: must be one of {', '.join(DISTRIBUTIONS)}, got {self.distribution!r}")
        if self.skip_below_index < 0:
            raise ValueError(f"skip_below_index: must be >= 0, got {self.skip_below_index}")


@dataclass(frozen=True)
class InterConfig(_Config):
    """Sizes and switches of the inter (P-frame) codec, :class:`cmfr_codec.models.inter.InterCodec`.

    Resolutions below are relative to the half-resolution 6-channel frame (1 = half of luma)::

        SpyNet (flow_levels, flow_channels per level, flow_cost_radius)     flow (2, 1)
        flow -motion encoder (motion_transform_channels, /2 /4 /8)-> motion latent (motion_latent_channels, 1/8)
             -motion hyper (motion_hyper_channels, 1/32)
        motion decoder -> flow (2, 1) and motion feature (motion_feature_channels, 1)
        Motion Refiner (refiner_channels)                                     [motion_refiner]
        reference feature (feature_channels, 1) -> contexts C1, C2, C3 (context_channels at 1, 1/2, 1/4);
            C1 aligned with alignment_groups offset groups
        feature residual, mask (feature_channels, 1)                          [feature_residual]
        contextual encoder/decoder (transform_channels at 1, 1/2, 1/4), SFF   [sff]
            -> latent (latent_channels, 1/8), hyper (hyper_channels, 1/32)
        frame generation UNet (unet_channels) -> x_hat (6, 1)

    ``blocks_per_stage`` DepthwiseBlocks follow every transform stage and fill every UNet level.
    The three bools are the CMFR methods (architecture section 1); each off gives the DCVC-DC-style
    baseline for that part, and its networks are then not built at all.  ``distribution`` and
    ``skip_below_index`` apply to both quadtree-coded latents (motion and frame);
    ``integer_entropy`` as for :class:`IntraConfig` (off, the frame latent's prior also sees C3).
    ``flow_cost_radius`` > 0 gives each SpyNet level a local cost volume of that radius
    (:func:`cmfr_codec.models.motion.matching_costs`); 0, the default, is the estimator the first
    trained weights have, whose files do not name the field.  ``density_bands`` as for
    :class:`IntraConfig`, for both hyper-latents.
    """

    feature_channels: int
    flow_levels: int
    flow_channels: tuple[int, ...]
    motion_transform_channels: int
    motion_latent_channels: int
    motion_hyper_channels: int
    motion_feature_channels: int
    refiner_channels: int
    context_channels: tuple[int, int, int]
    transform_channels: tuple[int, int, int]
    latent_channels: int
    hyper_channels: int
    unet_channels: tuple[int, int, int]
    blocks_per_stage: int = 1
    alignment_groups: int = 4
    feature_residual: bool = True
    sff: bool = True
    motion_refiner: bool = True
    distribution: str = "gaussian"
    skip_below_index: int = 0
    integer_entropy: bool = True
    flow_cost_radius: int = 0
    density_bands: int = 1

    def __post_init__(self) -> None:
        _check_density_bands(self.density_bands)
        counts = {
            name: value if isinstance(value, tuple) else (value,)
            for name, value in (
                ("feature_channels", self.feature_channels),
                ("flow_levels", self.flow_levels),
                ("flow_channels", self.flow_channels),
                ("motion_transform_channels", self.motion_transform_channels),
                ("motion_latent_channels", self.motion_latent_channels),
                ("motion_hyper_channels", self.motion_hyper_channels),
                ("motion_feature_channels", self.motion_feature_channels),
                ("refiner_channels", self.refiner_channels),
                ("context_channels", self.context_channels),
                ("transform_channels", self.transform_channels),
                ("latent_channels", self.latent_channels),
                ("hyper_channels", self.hyper_channels),
                ("unet_channels", self.unet_channels),
                ("blocks_per_stage", self.blocks_per_stage),
                ("alignment_groups", self.alignment_groups),
            )
        }
        for name, values in counts.items():
            if not values or any(value < 1 for value in values):
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)!r}")
        for name in ("latent_channels", "motion_latent_channels"):
            if getattr(self, name) % LATENT_GROUPS:
                raise ValueError(f"{name}: must be a multiple of {LATENT_GROUPS}, got {getattr(self, name)}")
        if self.context_channels[0] % self.alignment_groups:
            raise ValueError(f"context_channels: the first ({self.context_channels[0]}) must be divisible by "
                             f"alignment_groups ({self.alignment_groups})")
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution: must be one of {', '.join(DISTRIBUTIONS)}, got {self.distribution!r}")
        if self.skip_below_index < 0:
            raise ValueError(f"skip_below_index: must be >= 0, got {self.skip_below_index}")
        if self.flow_cost_radius < 0:
            raise ValueError(f"flow_cost_radius: must be >= 0, got {self.flow_cost_radius}")


@dataclass(frozen=True)
class ModelConfig(_Config):
    """A whole model: the ``name`` a bitstream records, and the config of each network."""

    name: str
    intra: IntraConfig
    inter: InterConfig

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("name: must not be empty")


CMFR_S = ModelConfig(
    name="cmfr-s",
    intra=IntraConfig(
        transform_channels=(32, 48, 64),
        latent_channels=64,
        hyper_channels=48,
        feature_channels=16,
        unet_channels=(16, 24, 32),
        blocks_per_stage=1,
        density_bands=DENSITY_BANDS,
    ),
    inter=InterConfig(
        feature_channels=16,
        flow_levels=4,
        flow_channels=(32, 64, 32, 16),
        flow_cost_radius=3,
        motion_transform_channels=32,
        motion_latent_channels=48,
        motion_hyper_channels=24,
        motion_feature_channels=16,
        refiner_channels=16,
        context_channels=(24, 32, 48),
        transform_channels=(24, 48, 56),
        latent_channels=64,
        hyper_channels=32,
        unet_channels=(24, 32, 48),
        blocks_per_stage=1,
        density_bands=DENSITY_BANDS,
    ),
)
"""The default preset, that of the shipped weights.  Intra: 1.2 M parameters, 29 GMAC per 1080p I-frame.
Inter: 2.5 M parameters, 174 GMAC to encode a 1080p P-frame (SpyNet with its cost volume included,
encoder only) and 103 GMAC to decode it (``benchmarks/model_cost.py``, docs/models.md).  The shipped
weights predate the cost volume (their config has ``flow_cost_radius`` 0): 164 GMAC to encode."""

CMFR_BASE = ModelConfig(
    name="cmfr-base",
    intra=IntraConfig(
        transform_channels=(128, 192, 192),
        latent_channels=192,
        hyper_channels=128,
        feature_channels=48,
        unet_channels=(48, 96, 128),
        blocks_per_stage=2,
        density_bands=DENSITY_BANDS,
    ),
    inter=InterConfig(
        feature_channels=48,
        flow_levels=5,
        flow_channels=(32, 64, 32, 16),
        flow_cost_radius=3,
        motion_transform_channels=64,
        motion_latent_channels=64,
        motion_hyper_channels=64,
        motion_feature_channels=32,
        refiner_channels=32,
        context_channels=(48, 64, 96),
        transform_channels=(64, 128, 192),
        latent_channels=128,
        hyper_channels=128,
        unet_channels=(64, 96, 128),
        blocks_per_stage=2,
        density_bands=DENSITY_BANDS,
    ),
)
"""Paper-sized, DCVC-DC-like channel counts.  Intra: 16 M parameters, 480 GMAC per 1080p I-frame.
Inter: 17 M parameters, 1093 GMAC to encode a 1080p P-frame and 788 GMAC to decode it."""

TINY = ModelConfig(
    name="tiny",
    intra=IntraConfig(
        transform_channels=(8, 12, 16),
        latent_channels=16,
        hyper_channels=8,
        feature_channels=8,
        unet_channels=(8, 8, 8),
        blocks_per_stage=1,
        density_bands=DENSITY_BANDS,
    ),
    inter=InterConfig(
        feature_channels=8,
        flow_levels=3,
        flow_channels=(8, 8),
        flow_cost_radius=1,
        motion_transform_channels=8,
        motion_latent_channels=16,
        motion_hyper_channels=4,
        motion_feature_channels=4,
        refiner_channels=8,
        context_channels=(8, 8, 8),
        transform_channels=(8, 8, 16),
        latent_channels=16,
        hyper_channels=8,
        unet_channels=(8, 8, 8),
        blocks_per_stage=1,
        density_bands=DENSITY_BANDS,
    ),
)
"""A few channels per layer: builds and codes a 64x64 frame in milliseconds, for tests only."""

PRESETS = {config.name: config for config in (CMFR_S, CMFR_BASE, TINY)}

CMFR_METHODS = ("feature_residual", "sff", "motion_refiner")
"""The three switches of :class:`InterConfig` that are the paper's methods, in the paper's order."""


def without_methods(config: ModelConfig, methods: typing.Iterable[str]) -> ModelConfig:
    """``config`` with the CMFR ``methods`` switched off, for the ablation, renamed for what is off.

    All three off is the paper's baseline, ``NAME-baseline``; fewer give ``NAME-no-sff`` and the like
    (the bitstream records the name, so an ablated model's streams say what made them).  No methods:
    ``config`` itself.
    """
    off = set(methods)
    unknown = sorted(off - set(CMFR_METHODS))
    if unknown:
        raise ModelError(f"no CMFR method named {unknown[0]!r}; the methods are {', '.join(CMFR_METHODS)}")
    if not off:
        return config
    kept = [method for method in CMFR_METHODS if method not in off]
    suffix = "baseline" if not kept else "-".join(f"no-{method.replace('_', '-')}" for method in CMFR_METHODS
                                                   if method in off)
    inter = dataclasses.replace(config.inter, **{method: False for method in off})
    return dataclasses.replace(config, name=f"{config.name}-{suffix}", inter=inter)


def preset(name: str) -> ModelConfig:
    """The preset called ``name``; ModelError listing the known names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ModelError(f"no model config named {name!r}; known: {', '.join(PRESETS)}") from None
