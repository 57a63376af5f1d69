"""Model configuration as data: frozen dataclasses that a weights file carries as plain JSON.

A weights file stores the config it was trained with next to the state_dict, so a decoder
rebuilds exactly that network from the file alone::

    ModelConfig --to_dict()--> {"name": ..., "intra": {...}} --json--> weights file
    weights file --json--> dict --ModelConfig.from_dict()--> ModelConfig --> IntraCodec(config.intra)

``from_dict`` is strict: an unknown key, a missing key without a default, or a value of the
wrong type raises ValueError naming the key (``intra.latent_channels``), because a silently
ignored or coerced field would build a different network than the one the weights belong to.

Presets are the configurations the project ships or tests with: :data:`CMFR_S` (the default,
sized for modest compute), :data:`CMFR_BASE` (DCVC-DC-like intra sizes) and :data:`TINY`
(a few channels, for fast tests).  :func:`preset` looks them up by name.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from cmfr_codec.errors import ModelError

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
    """``value`` converted to the field type ``expected`` (int, str, tuple[int, ...] or a config)."""
    if isinstance(expected, type) and issubclass(expected, _Config):
        return _from_plain(expected, value, prefix=key + ".")
    if typing.get_origin(expected) is tuple:
        item_types = typing.get_args(expected)
        if not isinstance(value, list | tuple) or len(value) != len(item_types):
            raise ValueError(f"{key}: expected a list of {len(item_types)} values, got {value!r}")
        return tuple(_checked_value(item, item_type, key) for item, item_type in zip(value, item_types, strict=True))
    # bool is an int subclass; True as a channel count is a mistake, not a 1.
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ValueError(f"{key}: expected {expected.__name__}, got {type(value).__name__} {value!r}")
    return value


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
    """

    transform_channels: tuple[int, int, int]
    latent_channels: int
    hyper_channels: int
    feature_channels: int
    unet_channels: tuple[int, int, int]
    blocks_per_stage: int = 1
    distribution: str = "gaussian"
    skip_below_index: int = 0

    def __post_init__(self) -> None:
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
class ModelConfig(_Config):
    """A whole model: the ``name`` a bitstream records, and the config of each network."""

    name: str
    intra: IntraConfig

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
    ),
)
"""The shipped default: 1.4 M parameters and 29 GMAC per 1080p intra frame (measured)."""

CMFR_BASE = ModelConfig(
    name="cmfr-base",
    intra=IntraConfig(
        transform_channels=(128, 192, 192),
        latent_channels=192,
        hyper_channels=128,
        feature_channels=48,
        unet_channels=(48, 96, 128),
        blocks_per_stage=2,
    ),
)
"""Paper-sized: DCVC-DC-like intra channel counts; 16 M parameters and 480 GMAC per 1080p intra frame."""

TINY = ModelConfig(
    name="tiny",
    intra=IntraConfig(
        transform_channels=(8, 12, 16),
        latent_channels=16,
        hyper_channels=8,
        feature_channels=8,
        unet_channels=(8, 8, 8),
        blocks_per_stage=1,
    ),
)
"""A few channels per layer: builds and codes a 64x64 frame in milliseconds, for tests only."""

PRESETS = {config.name: config for config in (CMFR_S, CMFR_BASE, TINY)}


def preset(name: str) -> ModelConfig:
    """The preset called ``name``; ModelError listing the known names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ModelError(f"no model config named {name!r}; known: {', '.join(PRESETS)}") from None
