"""The training loop behind ``cmfr train``: stages, per-step randomness, checkpoints, logs, DDP.

::

    prepared set --StepBatches (DataLoader workers)--> (B, T, 6, h, w) snippets of step s
                     (intra: a share of still crops; motion, first steps: + DIS flow targets)
        --StageObjective: intra / motion / inter over T frames--> lambda * D + w_R * R (+ warping loss)
                                                                   (+ w_s * flow error to DIS)
        --DDP all-reduce--> Adam --every N steps--> checkpoint.pt, train.csv, validation.csv
        --end of stage--> NAME.intra.cmfrw + NAME.inter.cmfrw (``cmfr encode --model``)

Every random choice of step ``s`` on rank ``r`` is derived from ``(seed, s, r)`` alone: the
snippets (which items, clips or stills, and their crops and flips), the quality indices and the
quantisation noise (``torch.manual_seed`` at the start of the step); the DIS flow targets are a
function of the snippets.  So a run resumed from a checkpoint (model, optimiser, step) repeats the
steps of an uninterrupted run exactly, on any machine with the same arithmetic; the checkpoint also
stores torch's RNG states, for completeness.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from cmfr_codec.atomic import AtomicOutput
from cmfr_codec.data.dataset import TRAIN, VALIDATION, ClipDataset, StillDataset
from cmfr_codec.errors import InputError, ModelError
from cmfr_codec.models.analysis import native_bfloat16
from cmfr_codec.models.codec import CmfrCodec
from cmfr_codec.models.config import PRESETS, ModelConfig, preset
from cmfr_codec.models.dpb import DecodedPictureBuffer
from cmfr_codec.models.latent_codecs import FactorizedLatentCodec, GaussianConditionalCodec
from cmfr_codec.models.quality import QUALITY_LEVELS, QualityScales
from cmfr_codec.progress import frame_progress
from cmfr_codec.training.distributed import ProcessPlace, barrier
from cmfr_codec.training.flow_teacher import (
    dis_flow_targets,
    one_opencv_thread,
    require_flow_teacher,
    synthetic_motion,
)
from cmfr_codec.training.losses import ANCHOR_INDICES, flow_endpoint_error, lambda_for
from cmfr_codec.training.stages import StageConfig
from cmfr_codec.weights import WeightsFiles, save_weights

CHECKPOINT_FORMAT = "cmfr-training-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"
TRAIN_LOG, VALIDATION_LOG = "train.csv", "validation.csv"
LOG_COLUMNS = ("step", "learning_rate", "loss", "mse", "bpp", "psnr")
DISTILL_COLUMN = "distill_epe"
GRADIENT_CLIP = 1.0
MOTION_PARTS = ("flow_estimator", "motion_context", "motion_encoder", "motion_prior", "motion_codec",
                "motion_decoder", "motion_refiner")
HYPER_LATENTS = ("z", "motion_z")
"""The likelihood names of the hyper-latents, whose factorized densities the densities stage fits."""
CALIBRATION_BATCHES = 32
"""Batches of its own snippets over which the densities stage counts the scale tables' bits (:func:`calibrate_scales`)."""
ESTIMATOR_FIELDS = ("flow_levels", "flow_channels", "flow_cost_radius")
"""The config fields of the flow estimator, which :func:`fresh_motion` takes from the current preset."""
_DATA_STREAM, _QUALITY_STREAM, _NOISE_STREAM, _SYNTHETIC_STREAM = 0, 1, 2, 3


def step_rng(seed: int, step: int, rank: int, stream: int) -> np.random.Generator:
    """The generator of one kind of randomness (``stream``) of one step on one rank."""
    return np.random.default_rng((seed, step, rank, stream))


def step_torch_seed(seed: int, step: int, rank: int) -> int:
    return int(np.random.SeedSequence((seed, step, rank, _NOISE_STREAM)).generate_state(1, np.uint64)[0] >> 1)


# -- data ---------------------------------------------------------------------------------------

class StepBatch(NamedTuple):
    """One step's input: snippets (B, T, 6, h, w) and, while the stage distils, the DIS flow of
    each frame to the one before it, (B, T-1, 2, h, w) (:mod:`~cmfr_codec.training.flow_teacher`)."""

    snippets: torch.Tensor
    flow_targets: torch.Tensor | None


class StepBatches(Dataset):
    """Item ``i`` is the whole batch of step ``first_step + i`` on this rank, a :class:`StepBatch`.

    Items of the prepared set are drawn with replacement from ``(seed, step, rank)`` (:meth:`draw`);
    their crops and flips are keyed by the epoch ``step * world_size + rank``, so ranks never share
    a crop.  The DIS flow targets of the steps up to the stage's ``distill_steps`` are computed
    here, so in the DataLoader workers, overlapping with training; so are the stage's share of
    synthetic pairs (:func:`~cmfr_codec.training.flow_teacher.synthetic_motion`), which replace the
    last snippets of those batches and bring their exact flow as the target.
    """

    def __init__(self, stage: StageConfig, clips: ClipDataset, first_step: int, seed: int, place: ProcessPlace,
                 stills: StillDataset | None = None):
        self.clips, self.stills = clips, stills
        self.first_step, self.last_step, self.batch = first_step, stage.steps, stage.batch
        self.still_share = stage.still_share if stills is not None else 0.0
        self.distill_steps, self.synthetic_share = stage.distill_steps, stage.synthetic_motion
        self.seed, self.rank, self.world_size = seed, place.rank, place.world_size

    @property
    def distills(self) -> bool:
        """Whether any step of these batches carries DIS targets (the workers then need OpenCV set up)."""
        return self.distill_steps >= self.first_step

    def __len__(self) -> int:
        return max(self.last_step - self.first_step + 1, 0)

    def draw(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """The indices of the clips and of the stills that make up the batch of ``step``.

        The number of stills is ``batch * still_share`` rounded down or, with a probability equal
        to the fraction, up: exact when the product is whole (2 of 8 at 0.25), right on average
        otherwise.  Without a still share only clips are drawn.
        """
        rng = step_rng(self.seed, step, self.rank, _DATA_STREAM)
        if not self.still_share:
            return rng.integers(0, len(self.clips), self.batch), np.empty(0, dtype=np.int64)
        stills = int(self.batch * self.still_share + rng.random())
        return rng.integers(0, len(self.clips), self.batch - stills), rng.integers(0, len(self.stills), stills)

    def __getitem__(self, index: int) -> StepBatch:
        step = self.first_step + index
        clip_items, still_items = self.draw(step)
        # Each DataLoader worker holds its own copy of the datasets, so setting their epoch here is local.
        epoch = step * self.world_size + self.rank
        self.clips.set_epoch(epoch)
        samples = [self.clips[int(item)] for item in clip_items]
        if len(still_items):
            self.stills.set_epoch(epoch)
            samples += [self.stills[int(item)][None] for item in still_items]
        if step > self.distill_steps:
            return StepBatch(torch.stack(samples), None)
        targets = [None] * len(samples)
        if self.synthetic_share:  # the last ones of the batch: batch * share, rounded at random like the stills
            rng = step_rng(self.seed, step, self.rank, _SYNTHETIC_STREAM)
            for item in range(len(samples) - int(len(samples) * self.synthetic_share + rng.random()), len(samples)):
                samples[item], targets[item] = synthetic_motion(samples[item], rng)
        targets = [dis_flow_targets(sample) if target is None else target for sample, target in zip(samples, targets, strict=True)]
        return StepBatch(torch.stack(samples), torch.stack(targets))


def step_batches(stage: StageConfig, data: Path, first_step: int, seed: int, place: ProcessPlace,
                 as_uint8: bool = False, report: Callable[[str], None] = print) -> StepBatches:
    """The batches of ``stage`` from ``first_step`` on: the train split's clips, and its stills when
    the stage has a still share.  InputError when the stage's snippets do not fit the prepared set."""
    try:
        clips = ClipDataset(data, TRAIN, frames=stage.frames, crop=stage.crop, seed=seed, as_uint8=as_uint8,
                            max_stride=stage.max_frame_stride)
        stills = None
        if stage.still_share:
            stills = _train_stills(clips, stage, seed, as_uint8)
            if stills is None and place.is_main:
                report(f"{stage.name}: no still images in the train split of {data}; "
                       f"still_share {stage.still_share} falls back to 0 (video frames only)")
    except ValueError as error:
        raise InputError(f"stage {stage.name} does not fit {data}: {error}") from None
    return StepBatches(stage, clips, first_step, seed, place, stills)


def _train_stills(clips: ClipDataset, stage: StageConfig, seed: int, as_uint8: bool) -> StillDataset | None:
    """The stills of the train split, or None when the prepared set has none there (videos only)."""
    if not any(shard["kind"] == StillDataset.kind and shard["split"] == TRAIN for shard in clips.manifest["shards"]):
        return None
    return StillDataset(clips.root, TRAIN, crop=stage.crop, seed=seed, repeats=1, decoder=clips.decoder,
                        as_uint8=as_uint8)


def step_loader(batches: StepBatches, workers: int, pin_memory: bool = False) -> DataLoader:
    """The DataLoader of ``cmfr train``: one step's batch per item, 4 batches prefetched per worker."""
    return DataLoader(batches, batch_size=None, num_workers=workers, pin_memory=pin_memory,
                      prefetch_factor=4 if workers else None,
                      worker_init_fn=one_opencv_thread if batches.distills else None)


# -- the objective ------------------------------------------------------------------------------

def _per_sample_mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """:func:`~cmfr_codec.training.losses.yuv_mse` (luma 6, each chroma plane 1) for each sample: (B,)."""
    error = (x_hat.float() - x.float()).pow(2)
    return (6 * error[:, :4].mean(dim=(1, 2, 3)) + error[:, 4].mean(dim=(1, 2)) + error[:, 5].mean(dim=(1, 2))) / 8


def _per_sample_msssim_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """1 - MS-SSIM of the full-resolution luma (the four phases put back together), per sample."""
    from pytorch_msssim import ms_ssim, ssim

    from cmfr_codec.metrics.msssim import msssim_window

    luma_hat, luma = F.pixel_shuffle(x_hat[:, :4].float(), 2), F.pixel_shuffle(x[:, :4].float(), 2)
    window, scales = msssim_window(min(luma.shape[-2:]))
    if scales == 1:
        return 1 - ssim(luma_hat, luma, data_range=1.0, size_average=False, win_size=window)
    return 1 - ms_ssim(luma_hat, luma, data_range=1.0, size_average=False, win_size=window)


def _per_sample_bpp(likelihoods: dict[str, torch.Tensor], names: Callable[[str], bool], luma_pixels: int) -> torch.Tensor:
    bits = sum(-values.float().clamp_min(1e-9).log2().flatten(1).sum(dim=1)
               for name, values in likelihoods.items() if names(name))
    return bits / luma_pixels


class StageObjective(nn.Module):
    """The loss of one stage on a batch of snippets; the module DistributedDataParallel wraps.

    ``forward(snippets (B, T, 6, h, w), quality_index (B,))`` -> the mean over the batch and the
    coded frames of ``lambda_q * D + rate_weight * R`` (plus ``warp_weight * lambda_q * D_warp``),
    with the logged terms.  Intra stages code frame 0; motion and inter stages code frame 0 with
    the (frozen) intra codec and frames 1..T-1 as chained P-frames whose buffers keep their
    gradients, so the cascade's errors propagate.  The motion stage's D is the warping error
    and its R the motion rate alone.  Given ``flow_targets`` (B, T-1, 2, h, w), the motion coder
    codes the teacher's flow instead of the estimator's (teacher forcing: an estimator learning from
    scratch finds no motion for thousands of steps, and a coder fed none learns to carry none), and
    the loss adds ``distill_weight`` times the sum of two end-point errors to the teacher, logged as
    ``distill_epe``: the flow estimator's own output, and the decoded (and refined) flow's.  The
    densities stage's loss is the rate of the hyper-latents alone (:meth:`_hyper_latent_rate`).
    """

    def __init__(self, codec: CmfrCodec, stage: StageConfig):
        super().__init__()
        self.codec, self.stage = codec, stage

    def forward(self, snippets: torch.Tensor, quality_index: torch.Tensor, quantization: str = "noise",
                flow_targets: torch.Tensor | None = None, distill_weight: float = 0.0) -> dict[str, torch.Tensor]:
        stage = self.stage
        lambdas = self._lambdas(quality_index)
        distortion = _per_sample_msssim_loss if stage.distortion == "msssim" else _per_sample_mse
        first = snippets[:, 0]
        flow_errors: list[torch.Tensor] = []
        luma_pixels = 4 * first.shape[-2] * first.shape[-1]
        if stage.trains == "densities":
            return self._hyper_latent_rate(snippets, quality_index, luma_pixels)
        if stage.trains == "intra":
            output = self.codec.intra(first, quality_index, quantization)
            rate = _per_sample_bpp(output.likelihoods, lambda name: True, luma_pixels)
            terms = [(lambdas * distortion(output.x_hat, first) + stage.rate_weight * rate,
                      _per_sample_mse(output.x_hat, first), rate)]
        else:
            with torch.no_grad():
                reference = self.codec.intra(first, self.frame_quality(quality_index, 0), "ste").x_hat
            buffer = DecodedPictureBuffer(frame=reference)
            terms = []
            for index in range(1, snippets.shape[1]):
                frame = snippets[:, index]
                target = flow_targets[:, index - 1] if flow_targets is not None else None
                frame_quality = self.frame_quality(quality_index, index)
                lambdas = self._lambdas(frame_quality)
                output = self.codec.inter(frame, buffer, frame_quality, quantization, flow=target)
                if stage.trains == "motion":
                    rate = _per_sample_bpp(output.likelihoods, lambda name: name.startswith("motion_"), luma_pixels)
                    loss = lambdas * distortion(output.warped, frame) + stage.rate_weight * rate
                    if target is not None:
                        estimated = self.codec.inter.flow_estimator(frame, buffer.frame)
                        flow_errors.append(flow_endpoint_error(estimated, target) + flow_endpoint_error(output.flow, target))
                        loss = loss + distill_weight * flow_errors[-1]
                    terms.append((loss, _per_sample_mse(output.warped, frame), rate))
                else:
                    rate = _per_sample_bpp(output.likelihoods, lambda name: True, luma_pixels)
                    loss = lambdas * distortion(output.x_hat, frame) + stage.rate_weight * rate
                    if stage.warp_weight:
                        loss = loss + stage.warp_weight * lambdas * _per_sample_mse(output.warped, frame)
                    terms.append((loss, _per_sample_mse(output.x_hat, frame), rate))
                buffer = output.dpb
        loss, mse, bpp = (torch.stack([term[part] for term in terms]).mean() for part in range(3))
        result = {"loss": loss, "mse": mse.detach(), "bpp": bpp.detach()}
        if flow_errors:
            result[DISTILL_COLUMN] = torch.stack(flow_errors).mean().detach()
        return result

    def frame_quality(self, quality_index: torch.Tensor, position: int) -> torch.Tensor:
        """The samples' quality indices for frame ``position`` of the snippet under the stage's quality hierarchy
        (frame 0 is the I-frame); ``quality_index`` itself when the hierarchy is flat."""
        hierarchy = self.stage.hierarchy()
        if not hierarchy.boosts(position):
            return quality_index
        return torch.tensor([hierarchy.frame_quality(int(q), position) for q in quality_index.tolist()],
                            dtype=quality_index.dtype, device=quality_index.device)

    def _lambdas(self, quality_index: torch.Tensor) -> torch.Tensor:
        stage = self.stage
        return torch.tensor([lambda_for(int(q), stage.lambda_spread) * stage.lambda_scale for q in quality_index.tolist()],
                            device=quality_index.device)

    def _hyper_latent_rate(self, snippets: torch.Tensor, quality_index: torch.Tensor,
                           luma_pixels: int) -> dict[str, torch.Tensor]:
        """``rate_weight`` times the bits per luma pixel of the hyper-latents (intra ``z``, motion ``z``,
        frame ``z``) of frame 0 as an I-frame and frames 1..T-1 as chained P-frames, every latent rounded
        as the coder rounds it.  Only the hyper-latents' factorized densities train here, and ``round(z)``
        does not depend on them: the stage lowers the rate and leaves every decoded picture as it was.
        ``mse`` is the frames' reconstruction error, logged to show that.
        """
        def hyper(name: str) -> bool:
            return name in HYPER_LATENTS

        output = self.codec.intra(snippets[:, 0], self.frame_quality(quality_index, 0), "ste")
        terms = [(_per_sample_bpp(output.likelihoods, hyper, luma_pixels), _per_sample_mse(output.x_hat, snippets[:, 0]))]
        buffer = DecodedPictureBuffer(frame=output.x_hat)
        for index in range(1, snippets.shape[1]):
            output = self.codec.inter(snippets[:, index], buffer, self.frame_quality(quality_index, index), "ste")
            terms.append((_per_sample_bpp(output.likelihoods, hyper, luma_pixels),
                          _per_sample_mse(output.x_hat, snippets[:, index])))
            buffer = output.dpb
        rate, mse = (torch.stack([term[part] for term in terms]).mean() for part in range(2))
        return {"loss": self.stage.rate_weight * rate, "mse": mse.detach(), "bpp": rate.detach()}


def trainable_parameters(codec: CmfrCodec, trains: str) -> list[nn.Parameter]:
    """Mark what ``trains`` names as trainable (and nothing else); -> those parameters, in a fixed order."""
    for parameter in codec.parameters():
        parameter.requires_grad_(False)
    if trains == "intra":
        selected = list(codec.intra.parameters())
    elif trains == "motion":
        selected = [parameter for name, parameter in codec.inter.named_parameters() if name.split(".")[0] in MOTION_PARTS]
    elif trains == "densities":
        selected = [parameter for module in codec.modules() if isinstance(module, FactorizedLatentCodec)
                    for parameter in module.parameters()]
    else:
        selected = list(codec.inter.parameters())
    for parameter in selected:
        parameter.requires_grad_(True)
    return selected


def parameter_groups(codec: CmfrCodec, parameters: list[nn.Parameter], quality_scale: float) -> list[dict]:
    """Adam's groups for ``parameters``, each with the factor ``"scale"`` on the stage's learning rate.

    The quality steps (:class:`QualityScales`) get ``quality_scale``: Adam moves a parameter by
    about one learning rate per step, and the log-steps must travel a unit or more for the 64
    qualities to spread over the lambda range, which the network's learning rate would take tens of
    thousands of steps to do.  One group when the factor is 1 (the layout of older checkpoints).
    """
    if quality_scale == 1:
        return [{"params": parameters, "scale": 1.0}]
    quality = {id(parameter) for module in codec.modules() if isinstance(module, QualityScales)
               for parameter in module.parameters()}
    groups = [{"params": [parameter for parameter in parameters if id(parameter) not in quality], "scale": 1.0},
              {"params": [parameter for parameter in parameters if id(parameter) in quality], "scale": quality_scale}]
    return [group for group in groups if group["params"]]


def psnr(mse: float) -> float:
    """PSNR in dB of a 6:1:1-weighted MSE on [0, 1]."""
    return 10 * math.log10(1 / mse) if mse > 0 else math.inf


# -- checkpoints and logs -----------------------------------------------------------------------

@dataclass
class Checkpoint:
    """What a resumed run needs: the model, the optimiser, the stage and the last step done."""

    config: ModelConfig
    stage: StageConfig
    step: int
    seed: int
    model: dict
    optimizer: dict
    rng: dict = field(default_factory=dict)


def save_checkpoint(path: Path, codec: CmfrCodec, optimizer: torch.optim.Optimizer, stage: StageConfig,
                    step: int, seed: int) -> None:
    """Write the checkpoint atomically: a kill while writing leaves the previous one."""
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    payload = {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "config": codec.config.to_dict(),
        "stage": stage.to_dict(), "step": step, "seed": seed,
        "model": {key: value.detach().cpu() for key, value in codec.state_dict().items()},
        "optimizer": _to_cpu(optimizer.state_dict()), "rng": rng,
    }
    with AtomicOutput(path) as output:
        torch.save(payload, output.temporary_path)


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(item) for item in value)
    return value


def load_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint at ``path`` (any device's, loaded to the CPU); InputError when it is not one."""
    if not path.is_file():
        raise InputError(f"no such checkpoint: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means the same to the user
        raise InputError(f"cannot read checkpoint {path}: {error}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not a cmfr training checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise InputError(f"{path} is checkpoint version {payload.get('version')}; this build reads {CHECKPOINT_VERSION}")
    return Checkpoint(ModelConfig.from_dict(payload["config"]), StageConfig.from_dict(payload["stage"], str(path)),
                      payload["step"], payload["seed"], payload["model"], payload["optimizer"], payload["rng"])


class CsvLog:
    """A CSV file of rows keyed by step; resuming at step ``s`` drops the rows written after ``s``."""

    def __init__(self, path: Path, columns: tuple[str, ...], keep_until: int | None):
        self.path, self.columns = path, columns
        kept = []
        if keep_until is not None and path.is_file():
            with open(path, newline="", encoding="utf-8") as handle:
                kept = [row for row in csv.DictReader(handle) if int(row["step"]) <= keep_until]
        with AtomicOutput(path) as output, open(output.temporary_path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(kept)

    def write(self, row: dict[str, float | int]) -> None:
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, self.columns).writerow({key: repr(value) for key, value in row.items()})


def read_log(path: Path) -> list[dict[str, float]]:
    """The rows of a training or validation log, as numbers; an empty cell (``distill_epe`` after
    distillation) leaves its key out of the row."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [{key: float(value) for key, value in row.items() if value != ""} for row in csv.DictReader(handle)]


# -- the loop -----------------------------------------------------------------------------------

@dataclass
class RunSettings:
    """How to run the stages; the stage configs say what to train."""

    data: Path
    output: Path
    seed: int = 0
    workers: int = 2
    precision: str = "auto"
    place: ProcessPlace = field(default_factory=lambda: ProcessPlace(0, 1, "cpu"))
    report: Callable[[str], None] = print
    on_step: Callable[[str, int, dict[str, float]], None] | None = None


@dataclass
class StageResult:
    stage: str
    steps_run: int
    weights: WeightsFiles | None
    checkpoint: Path


def new_codec(model_config: str | ModelConfig) -> CmfrCodec:
    return CmfrCodec(preset(model_config) if isinstance(model_config, str) else model_config)


def copy_intra(codec: CmfrCodec, weights: Path) -> None:
    """Load the intra codec of the weights pair ``weights`` into ``codec``, whose inter codec stays as it is.

    For the ablation: models that differ only in their inter codec start from one trained intra codec.
    """
    from cmfr_codec.weights import find_weights, read_part

    part = read_part(find_weights(str(weights)).intra, "intra")
    if part["config"]["intra"] != codec.config.intra.to_dict():
        raise InputError(f"--intra-from {weights}: its intra codec has another config than {codec.config.name}'s")
    codec.intra.load_state_dict(part["state_dict"])


def fresh_motion(codec: CmfrCodec, seed: int) -> CmfrCodec:
    """A codec with ``codec``'s weights except the motion parts (:data:`MOTION_PARTS`), which are
    those of a new model seeded with ``seed``.

    For weights whose motion coder has collapsed: once its prior is tight and its decoder ignores
    the latent, the rate term keeps every gradient step from reviving it (docs/training.md).  The
    new flow estimator is the current preset's of the same name (:data:`ESTIMATOR_FIELDS`), so
    weights trained before the estimator had a cost volume get one; every other part keeps its config.
    """
    config = codec.config
    if config.name in PRESETS:
        latest = PRESETS[config.name].inter
        estimator = {field: getattr(latest, field) for field in ESTIMATOR_FIELDS}
        config = dataclasses.replace(config, inter=dataclasses.replace(config.inter, **estimator))
    torch.manual_seed(seed)
    fresh = CmfrCodec(config)
    fresh.intra.load_state_dict(codec.intra.state_dict())
    for name, module in codec.inter.named_children():
        if name not in MOTION_PARTS:
            getattr(fresh.inter, name).load_state_dict(module.state_dict())
    return fresh


def with_density_bands(codec: CmfrCodec, bands: int) -> CmfrCodec:
    """``codec`` with ``bands`` density bands in each hyper-latent (:class:`FactorizedLatentCodec`), every
    other weight the same: each new band starts from the density of the old band that held its qualities.
    ``codec`` itself when it has them already.  Only densities differ, so decoded pictures stay the same.
    """
    config = codec.config
    if config.intra.density_bands == bands and config.inter.density_bands == bands:
        return codec
    config = dataclasses.replace(config, intra=dataclasses.replace(config.intra, density_bands=bands),
                                 inter=dataclasses.replace(config.inter, density_bands=bands))
    spread = CmfrCodec(config).to(next(codec.parameters()).device)
    densities = [name for name, module in codec.named_modules() if isinstance(module, FactorizedLatentCodec)]
    kept = {key: value for key, value in codec.state_dict().items()
            if not any(key.startswith(name + ".") for name in densities)}
    missing, unexpected = spread.load_state_dict(kept, strict=False)
    if unexpected or any(not any(key.startswith(name + ".") for name in densities) for key in missing):
        raise ModelError("spreading the density bands lost weights: the model is not a CMFR codec of its config")
    for name in densities:
        spread.get_submodule(name).spread_bands(codec.get_submodule(name))
    spread.train(codec.training)
    return spread


PRECISIONS = ("auto", "bf16", "fp32")
"""``cmfr train --precision``: auto is bf16 autocast on CUDA and fp32 on the CPU; bf16 is bf16 autocast on
CUDA and on CPUs that compute bfloat16 natively; fp32 is no autocast."""


def trains_in_bf16(device: str, precision: str) -> bool:
    """Whether ``precision`` means bf16 autocast on ``device`` (InputError: bf16 asked of a CPU without it)."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return False
    if device.startswith("cuda"):
        return True
    if precision == "bf16" and not native_bfloat16(device):
        raise InputError("--precision bf16: this CPU has no native bfloat16 (AVX512-BF16 or AMX), where it would "
                         "train slower than fp32; use --precision fp32")
    return precision == "bf16"


def training_autocast(device: str, bf16: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` when ``bf16`` (:func:`trains_in_bf16`); losses and rates are computed in
    float32 and the integer entropy networks opt out themselves."""
    if bf16:
        return torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _batches(loader: DataLoader, device: str) -> Iterator[StepBatch]:
    for batch in loader:
        snippets = batch.snippets.to(device, non_blocking=True)
        targets = None if batch.flow_targets is None else batch.flow_targets.to(device, non_blocking=True)
        yield StepBatch(snippets.float().div_(255.0) if snippets.dtype == torch.uint8 else snippets, targets)


def train_stage(codec: CmfrCodec, stage: StageConfig, settings: RunSettings,
                resume: Checkpoint | None = None) -> StageResult:
    """Run ``stage`` on ``codec`` (in place) from step 1, or from the step after ``resume``'s."""
    place = settings.place
    folder = settings.output / stage.name
    if place.is_main:
        folder.mkdir(parents=True, exist_ok=True)
    codec.to(place.device).train()
    parameters = trainable_parameters(codec, stage.trains)
    optimizer = torch.optim.Adam(parameter_groups(codec, parameters, stage.quality_learning_rate_scale),
                                 lr=stage.learning_rate)
    start = 0
    if resume is not None:
        codec.load_state_dict(resume.model)
        optimizer.load_state_dict(resume.optimizer)
        start = resume.step
        torch.set_rng_state(resume.rng["torch"])
    objective = StageObjective(codec, stage)
    bf16 = trains_in_bf16(place.device, settings.precision)
    model: nn.Module = objective
    if place.distributed:
        model = DistributedDataParallel(objective, find_unused_parameters=True)
    on_gpu = place.device.startswith("cuda")
    batches = step_batches(stage, settings.data, start + 1, settings.seed, place, as_uint8=on_gpu,
                           report=settings.report)
    loader = step_loader(batches, settings.workers, pin_memory=on_gpu)
    validation = _validation_set(settings.data, stage) if place.is_main else None
    if place.is_main and validation is None:
        settings.report(f"{stage.name}: no validation clips in {settings.data}; validation is skipped")
    train_log = validation_log = None
    if place.is_main:
        keep = start if resume is not None else None
        # A motion stage always has the column (empty when not distilling), so resuming with
        # another --distill-steps keeps the rows already written.
        columns = LOG_COLUMNS + ((DISTILL_COLUMN,) if stage.trains == "motion" else ())
        train_log = CsvLog(folder / TRAIN_LOG, columns, keep)
        validation_log = CsvLog(folder / VALIDATION_LOG, ("step", "loss", "mse", "bpp", "psnr"), keep)
    checkpoint_path = folder / CHECKPOINT_NAME
    if validation is not None and resume is None:
        validation_log.write({"step": 0, **validate(objective, validation, place.device, bf16)})
    started = time.monotonic()
    step = start
    with frame_progress() as progress:
        task = progress.add_task(stage.name, total=stage.steps, completed=start, status="")
        for step, batch in enumerate(_batches(loader, place.device), start=start + 1):
            learning_rate = stage.learning_rate_at(step)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate * group["scale"]
            quality = torch.from_numpy(step_rng(settings.seed, step, place.rank, _QUALITY_STREAM)
                                       .integers(0, QUALITY_LEVELS, len(batch.snippets))).to(place.device)
            torch.manual_seed(step_torch_seed(settings.seed, step, place.rank))
            with training_autocast(place.device, bf16):
                terms = model(batch.snippets, quality, flow_targets=batch.flow_targets,
                              distill_weight=stage.distill_weight_at(step))
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            torch.nn.utils.clip_grad_norm_(parameters, GRADIENT_CLIP)
            optimizer.step()
            row = {"loss": terms["loss"].item(), "mse": terms["mse"].item(), "bpp": terms["bpp"].item()}
            row["psnr"] = psnr(row["mse"])
            if DISTILL_COLUMN in terms:
                row[DISTILL_COLUMN] = terms[DISTILL_COLUMN].item()
            if place.is_main:
                if step % stage.log_every == 0 or step == stage.steps:
                    train_log.write({"step": step, "learning_rate": learning_rate, **row})
                if step % stage.checkpoint_every == 0 or step == stage.steps:
                    save_checkpoint(checkpoint_path, codec, optimizer, stage, step, settings.seed)
                if validation is not None and (step % stage.validate_every == 0 or step == stage.steps):
                    validation_log.write({"step": step, **validate(objective, validation, place.device, bf16)})
                rate = (step - start) * stage.batch * place.world_size / max(time.monotonic() - started, 1e-9)
                progress.update(task, completed=step, status=f"loss {row['loss']:.4f} {row['bpp']:.3f} bpp "
                                f"{row['psnr']:.2f} dB {rate:.1f} samples/s")
            if settings.on_step is not None:
                settings.on_step(stage.name, step, row)
    barrier(place)
    weights = None
    if place.is_main and stage.trains == "densities":
        calibrate_scales(codec, stage, settings)
    if place.is_main:
        export = CmfrCodec(codec.config)
        export.load_state_dict(codec.state_dict())
        export.eval()
        export.update_tables()
        weights = save_weights(export, folder / codec.config.name)
        minutes = (time.monotonic() - started) / 60
        settings.report(f"{stage.name}: {step - start} steps to step {step} in {minutes:.1f} min; weights {weights.intra}")
    return StageResult(stage.name, step - start, weights, checkpoint_path)


@torch.no_grad()
def calibrate_scales(codec: CmfrCodec, stage: StageConfig, settings: RunSettings) -> None:
    """Set every conditional codec's ``index_map`` from the bits its symbols would cost in each scale table.

    Over the stage's first :data:`CALIBRATION_BATCHES` batches (the same snippets and quality indices
    as its first steps), coded as the coder codes them, each :class:`GaussianConditionalCodec` sums
    :meth:`~GaussianConditionalCodec.table_bits`; each predicted table index is then sent to the table
    that spent the fewest.  The symbols do not change, only the tables that code them.
    """
    device = settings.place.device
    codecs = [module for module in codec.modules() if isinstance(module, GaussianConditionalCodec)]
    totals = {id(module): torch.zeros(module.scale_table.count, module.scale_table.count, dtype=torch.float64)
              for module in codecs}

    def count(module: GaussianConditionalCodec, inputs: tuple, output: tuple) -> None:
        _, positions, means, *_ = inputs
        totals[id(module)] += module.table_bits((output[0] - means).round(), positions)

    hooks = [module.register_forward_hook(count) for module in codecs]
    objective = StageObjective(codec, stage).eval()
    batches = step_batches(stage, settings.data, 1, settings.seed, settings.place, report=settings.report)
    try:
        first_batches = itertools.islice(_batches(step_loader(batches, 0), device), CALIBRATION_BATCHES)
        for step, batch in enumerate(first_batches, start=1):
            quality = torch.from_numpy(step_rng(settings.seed, step, settings.place.rank, _QUALITY_STREAM)
                                       .integers(0, QUALITY_LEVELS, len(batch.snippets))).to(device)
            objective(batch.snippets, quality, "ste")
    finally:
        for hook in hooks:
            hook.remove()
        codec.train()
    moved = 0
    for module in codecs:
        module.calibrate(totals[id(module)])
        moved += int((module.index_map != torch.arange(module.scale_table.count).to(module.index_map)).sum())
    settings.report(f"{stage.name}: scale tables calibrated on {step} batches; "
                    f"{moved} of {len(codecs) * codecs[0].scale_table.count} predicted indices now coded with "
                    f"another table")


def _validation_set(data: Path, stage: StageConfig) -> list[torch.Tensor] | None:
    try:
        clips = ClipDataset(data, VALIDATION, frames=stage.frames, crop=stage.crop, augment=False)
    except InputError:
        return None
    return [clips[index] for index in range(min(stage.validation_clips, len(clips)))]


@torch.no_grad()
def validate(objective: StageObjective, clips: list[torch.Tensor], device: str, bf16: bool) -> dict[str, float]:
    """The stage's loss on the held-out clips at the four anchor quality indices, rounded latents."""
    totals = {"loss": 0.0, "mse": 0.0, "bpp": 0.0}
    for clip in clips:
        for quality in ANCHOR_INDICES:
            with training_autocast(device, bf16):
                terms = objective(clip[None].to(device), torch.tensor([quality], device=device), "ste")
            for key in totals:
                totals[key] += terms[key].item() / (len(clips) * len(ANCHOR_INDICES))
    return {**totals, "psnr": psnr(totals["mse"])}


def run_stages(stages: list[StageConfig], settings: RunSettings, model_config: str | ModelConfig = "cmfr-s",
               init: Path | None = None, resume: Path | None = None,
               resume_overrides: Callable[[StageConfig], StageConfig] = lambda stage: stage,
               intra_from: Path | None = None, reset_motion: bool = False) -> list[StageResult]:
    """Train ``stages`` in order on one model: fresh (``model_config``, a preset name or a config; its
    intra codec from ``intra_from``'s weights if given), from weights (``init``; with ``reset_motion``,
    its motion parts new, :func:`fresh_motion`) or from a checkpoint (``resume``: its stage continues,
    with its own seed, then the stages after it).
    """
    checkpoint = None
    if resume is not None:
        checkpoint = load_checkpoint(resume)
        names = [stage.name for stage in stages]
        resumed = resume_overrides(checkpoint.stage)
        stages = [resumed, *stages[names.index(resumed.name) + 1:]] if resumed.name in names else [resumed]
        settings.seed = checkpoint.seed
    for number, stage in enumerate(stages):
        require_flow_teacher(stage, checkpoint.step + 1 if checkpoint is not None and number == 0 else 1)
    if checkpoint is not None:
        codec = CmfrCodec(checkpoint.config)
    elif init is not None:
        from cmfr_codec.weights import find_weights, load_model

        codec = load_model(find_weights(str(init)), for_coding=False).codec
        if reset_motion:
            codec = fresh_motion(codec, settings.seed)
    else:
        torch.manual_seed(settings.seed)
        codec = new_codec(model_config)
        if intra_from is not None:
            copy_intra(codec, intra_from)
    results = []
    for number, stage in enumerate(stages):
        if stage.density_bands:
            codec = with_density_bands(codec, stage.density_bands)
        results.append(train_stage(codec, stage, settings, checkpoint if number == 0 else None))
    return results
