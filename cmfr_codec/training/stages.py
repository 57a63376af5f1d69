"""Training stages as data: one TOML file per stage in ``cmfr_codec/training/configs``.

A stage says what trains, on what snippets, for how long and with which loss::

    name = "cascade"      # log, checkpoint and weights folder name
    trains = "inter"      # "intra" | "motion" (the inter codec's motion parts) | "inter" (the whole inter codec)
                          # | "densities" (the hyper-latents' factorized densities alone, on their rate)
    steps = 60000         # optimiser steps
    batch = 4             # snippets per step and process
    crop = 256            # luma crop side, a multiple of 64
    frames = 5            # frames per snippet: 1 for intra, 2 for one P-frame, 3..7 for the cascade
    learning_rate = 1e-5  # at step 1, decaying exponentially to
    final_learning_rate = 1e-6  # at the last step
    quality_learning_rate_scale = 1.0  # multiplies the learning rate of the quality steps (QualityScales)
    rate_weight = 1.0     # 0 trains reconstruction only
    warp_weight = 0.0     # weight of the warping loss lambda * D(warp(x^_{t-1}), x_t)
    distortion = "mse"    # "mse" (YUV 6:1:1) | "msssim" (1 - MS-SSIM of the luma)
    lambda_scale = 1.0    # multiplies the four lambda anchors (MS-SSIM needs smaller lambdas)
    lambda_spread = 1.0   # exponent on the anchors' range about its centre: 1 is 85..840, 2 is 27.0..2641
    checkpoint_every = 1000, validate_every = 1000, log_every = 10, validation_clips = 16
    max_frame_stride = 1  # snippets take every s-th frame of a clip, s random in 1..this (1: consecutive frames)
    hierarchy_period = 1  # not intra: frame 0 (the I-frame) and every period-th P-frame after it are coded
    hierarchy_boost = 0   # this many quality indices above the sample's (at most 63), at their lambda, as
                          # the encoder's quality hierarchy codes them (cmfr_codec.hierarchy; 1 / 0: flat)

Data options of one kind of stage each (``still_share`` and ``distill_steps`` are refused elsewhere)::

    still_share = 0.25    # trains = "intra": share of each batch cut from the still images (default 0: frames only)
    distill_steps = 10000 # trains = "motion": first steps that also fit OpenCV's DIS flow (default 0: none)
    distill_weight = 1.0  # weight of that term at step 1 (default 1), falling linearly to 0 after distill_steps
    synthetic_motion = 0.5 # trains = "motion", frames = 2: share of those steps' pairs made with a known random
                           # flow instead of DIS's (flow_teacher.synthetic_motion; default 0: none)
    density_bands = 8     # trains = "densities": hyper-latent density bands to fit; a model with other
                          # bands gets, before the first step, each new band's density copied from the
                          # band that held its qualities (default 0: the model's own bands)

:data:`STAGE_ORDER` is the order ``cmfr train --stage all`` runs them in.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cmfr_codec.errors import InputError
from cmfr_codec.hierarchy import QualityHierarchy
from cmfr_codec.models.quality import QUALITY_LEVELS

STAGE_ORDER = ("intra", "motion", "inter", "inter-rate", "cascade", "densities")
OPTIONAL_STAGES = ("msssim",)
TRAINED_PARTS = ("intra", "motion", "inter", "densities")
DISTORTIONS = ("mse", "msssim")
CROP_MULTIPLE = 64


@dataclass(frozen=True)
class StageConfig:
    """One training stage; see the module docstring for the meaning of each field."""

    name: str
    trains: str
    steps: int
    batch: int
    crop: int
    frames: int
    learning_rate: float
    final_learning_rate: float
    quality_learning_rate_scale: float = 1.0
    rate_weight: float = 1.0
    warp_weight: float = 0.0
    distortion: str = "mse"
    lambda_scale: float = 1.0
    lambda_spread: float = 1.0
    still_share: float = 0.0
    distill_steps: int = 0
    distill_weight: float = 1.0
    checkpoint_every: int = 1000
    validate_every: int = 1000
    log_every: int = 10
    validation_clips: int = 16
    max_frame_stride: int = 1
    synthetic_motion: float = 0.0
    density_bands: int = 0
    hierarchy_period: int = 1
    hierarchy_boost: int = 0

    def __post_init__(self) -> None:
        if self.trains not in TRAINED_PARTS:
            raise InputError(f"stage {self.name}: trains must be one of {', '.join(TRAINED_PARTS)}, got {self.trains!r}")
        if self.distortion not in DISTORTIONS:
            raise InputError(f"stage {self.name}: distortion must be one of {', '.join(DISTORTIONS)}, got {self.distortion!r}")
        if self.crop < CROP_MULTIPLE or self.crop % CROP_MULTIPLE:
            raise InputError(f"stage {self.name}: crop must be a positive multiple of {CROP_MULTIPLE}, got {self.crop}")
        low = 1 if self.trains == "intra" else 2
        if not low <= self.frames <= 7 or (self.trains == "intra" and self.frames != 1):
            raise InputError(f"stage {self.name}: frames must be 1 for intra and 2..7 otherwise, got {self.frames}")
        for field in ("steps", "batch", "checkpoint_every", "validate_every", "log_every", "validation_clips",
                      "max_frame_stride"):
            if getattr(self, field) < 1:
                raise InputError(f"stage {self.name}: {field} must be 1 or more, got {getattr(self, field)}")
        if self.learning_rate <= 0 or self.final_learning_rate <= 0:
            raise InputError(f"stage {self.name}: learning rates must be positive")
        if self.lambda_spread <= 0:
            raise InputError(f"stage {self.name}: lambda_spread must be positive, got {self.lambda_spread}")
        if self.rate_weight < 0:
            raise InputError(f"stage {self.name}: rate_weight must be 0 or more, got {self.rate_weight}")
        if self.quality_learning_rate_scale <= 0:
            raise InputError(f"stage {self.name}: quality_learning_rate_scale must be positive, "
                             f"got {self.quality_learning_rate_scale}")
        self._check_data_options()

    def _check_data_options(self) -> None:
        """Stills feed only the intra codec, the flow teacher only the motion stage and new density bands only the
        densities stage: elsewhere they would be ignored."""
        if not 0 <= self.still_share <= 1:
            raise InputError(f"stage {self.name}: still_share must be 0..1, got {self.still_share}")
        if self.still_share and self.trains != "intra":
            raise InputError(f"stage {self.name}: still_share applies to intra stages only; set it to 0")
        if self.distill_steps < 0:
            raise InputError(f"stage {self.name}: distill_steps must be 0 or more, got {self.distill_steps}")
        if self.distill_steps and self.trains != "motion":
            raise InputError(f"stage {self.name}: distill_steps applies to motion stages only; set it to 0")
        if self.distill_weight <= 0:
            raise InputError(f"stage {self.name}: distill_weight must be positive, got {self.distill_weight}")
        if not 0 <= self.synthetic_motion <= 1:
            raise InputError(f"stage {self.name}: synthetic_motion must be 0..1, got {self.synthetic_motion}")
        if not 0 <= self.density_bands <= QUALITY_LEVELS:
            raise InputError(f"stage {self.name}: density_bands must be 0..{QUALITY_LEVELS}, got {self.density_bands}")
        if self.density_bands and self.trains != "densities":
            raise InputError(f"stage {self.name}: density_bands applies to densities stages only; set it to 0")
        try:
            hierarchy = self.hierarchy()
        except ValueError as error:
            raise InputError(f"stage {self.name}: {error} (hierarchy_period, hierarchy_boost)") from None
        if self.trains == "intra" and hierarchy.boosts(0):
            raise InputError(f"stage {self.name}: the quality hierarchy applies to stages with P-frames; intra stages "
                             f"code I-frames alone (set hierarchy_period = 1)")
        if self.synthetic_motion and (self.trains != "motion" or self.frames != 2):
            raise InputError(f"stage {self.name}: synthetic_motion makes frame pairs for motion stages "
                             f"(trains = \"motion\", frames = 2) only; set it to 0")

    def hierarchy(self) -> QualityHierarchy:
        """Which quality index each frame of a snippet is coded at (frame 0 is the I-frame)."""
        return QualityHierarchy(self.hierarchy_period, self.hierarchy_boost)

    def learning_rate_at(self, step: int) -> float:
        """Exponential decay from ``learning_rate`` at step 1 to ``final_learning_rate`` at the last step."""
        progress = (step - 1) / max(self.steps - 1, 1)
        return self.learning_rate * (self.final_learning_rate / self.learning_rate) ** progress

    def distill_weight_at(self, step: int) -> float:
        """Weight of the DIS distillation term at ``step``: ``distill_weight`` at step 1, falling linearly
        to 0 at step ``distill_steps + 1``, so that the warping loss alone trains the flow from then on."""
        if step > self.distill_steps:
            return 0.0
        return self.distill_weight * (1 - (step - 1) / self.distill_steps)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "stage config") -> StageConfig:
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise InputError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(fields)})")
        missing = [name for name, field in fields.items() if field.default is dataclasses.MISSING and name not in data]
        if missing:
            raise InputError(f"{where}: missing key {missing[0]!r}")
        values = {}
        for name, value in data.items():
            kind = fields[name].type
            if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            expected = {"int": int, "float": float, "str": str}[kind]
            if not isinstance(value, expected) or isinstance(value, bool):
                raise InputError(f"{where}: {name} must be {kind}, got {value!r}")
            values[name] = value
        return cls(**values)


def stage_names() -> tuple[str, ...]:
    """The stages shipped with the package."""
    return STAGE_ORDER + OPTIONAL_STAGES


def load_stage(name_or_path: str | Path) -> StageConfig:
    """A shipped stage by name (``intra``) or a stage TOML file by path."""
    path = Path(name_or_path)
    if str(name_or_path) in stage_names():
        text = resources.files("cmfr_codec.training").joinpath("configs", f"{name_or_path}.toml").read_text("utf-8")
        where = f"{name_or_path}.toml"
    elif path.suffix == ".toml" and path.is_file():
        text, where = path.read_text("utf-8"), str(path)
    else:
        raise InputError(f"no stage {str(name_or_path)!r}: name one of {', '.join(stage_names())} or a .toml file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{where}: not valid TOML: {error}") from None
    return StageConfig.from_dict(data, where)


def with_overrides(stage: StageConfig, **overrides: Any) -> StageConfig:
    """``stage`` with the fields in ``overrides`` that are not None replaced."""
    return dataclasses.replace(stage, **{key: value for key, value in overrides.items() if value is not None})
